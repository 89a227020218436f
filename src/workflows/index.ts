// The workflow bundle's entry: every workflow type the worker serves. A run evaluates its own copy of each module
// it imports (Temporal's sandbox): the ledger writer and the reconciliation (and zod, which they use) are loaded
// only by their own runs, never by the many payment runs (see ledger-protocol.ts for the figures).
import type * as Ledger from './payment-ledger';
import type * as Reconcile from './reconcile';

export { paymentSyncWorkflow } from './payment-sync';

/* eslint-disable @typescript-eslint/no-require-imports */
export function paymentLedgerWorkflow(...args: Parameters<typeof Ledger.paymentLedgerWorkflow>): ReturnType<typeof Ledger.paymentLedgerWorkflow> {
  return (require('./payment-ledger') as typeof Ledger).paymentLedgerWorkflow(...args);
}

export function reconcilePaymentsWorkflow(...args: Parameters<typeof Reconcile.reconcilePaymentsWorkflow>): ReturnType<typeof Reconcile.reconcilePaymentsWorkflow> {
  return (require('./reconcile') as typeof Reconcile).reconcilePaymentsWorkflow(...args);
}
/* eslint-enable @typescript-eslint/no-require-imports */
