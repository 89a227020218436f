// The package's public surface for callers and tools.
export * from './client/payment-sync-client';
export * from './domain/payment-input';
export * from './domain/payment-modes';
export * from './domain/errors';
export type * from './domain/payment-sync';
export { retryArmadoNowSignal, statusQuery, InvoiceNumberKey, PaymentModeKey, SyncOutcomeKey } from './workflows/contract';
export { loadConfig, type Config } from './config';
export { createPaymentWorker } from './worker';
