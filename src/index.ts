// The package's public surface for callers and tools.
export * from './client/payment-sync-client';
export * from './domain/payment-input';
export * from './domain/payment-modes';
export * from './domain/errors';
export type * from './domain/shapes';
export { retryArmadoNowSignal, statusQuery, InvoiceNumberKey, PaymentModeKey, SyncOutcomeKey } from './workflows/contract';
export { loadConfig, type Config } from './config';
export { createPaymentWorker } from './worker';
export { loadCallerConfig, loadIntakeConfig, loadTemporalConfig, type CallerConfig, type IntakeConfig } from './config';
export { createIntakeServer, INTAKE_MAX_BODY_BYTES, type AccessLogEntry, type IntakeOptions, type IntakeServer } from './intake/server';
export { runDoctor, type DoctorCheck } from './operations/doctor';
export { batchReset, resetRun, type BatchResetEntry, type BatchResetOptions } from './operations/reset';
export type { PaymentSyncMemo } from './domain/run-summary';
