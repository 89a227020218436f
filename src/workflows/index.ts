// The workflow bundle's entry: every workflow type the worker serves.
export { paymentSyncWorkflow } from './payment-sync';
export { paymentLedgerWorkflow } from './payment-ledger';
export { reconcilePaymentsWorkflow } from './reconcile';
