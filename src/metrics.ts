// Business metrics (DESIGN: watch error rate, bills not found, API-key errors, timeouts). Exported by the
// SDK runtime's Prometheus endpoint once the worker installs it; a no-op elsewhere (CLI, tests).
import type { MetricCounter, MetricHistogram, MetricMeter } from '@temporalio/common';

export type ApiSystem = 'tempo' | 'armado' | 'sheets';

/** Business metrics; a no-op until installObservability() gives them the runtime's meter. */
export interface BusinessMetrics {
  apiRequest(system: ApiSystem, status: number | 'timeout' | 'network-error', durationMs: number): void;
  authFailure(system: ApiSystem): void;
  billNotFound(): void;
  billAmbiguous(): void;
}

const noop: BusinessMetrics = { apiRequest: () => undefined, authFailure: () => undefined, billNotFound: () => undefined, billAmbiguous: () => undefined };
let current: BusinessMetrics = noop;

export function setBusinessMetrics(m: BusinessMetrics): void {
  current = m;
}

export function metrics(): BusinessMetrics {
  return current;
}

export const METRIC = {
  apiRequestDuration: 'tempo_armado_sync_api_request_duration',
  authFailures: 'tempo_armado_sync_auth_failures',
  billNotFound: 'tempo_armado_sync_armado_bill_not_found',
  billAmbiguous: 'tempo_armado_sync_armado_bill_ambiguous',
  /** Emitted by the workflow itself (see payment-sync.ts), never during replay. */
  payments: 'tempo_armado_sync_payments',
  /** Emitted by reconcilePaymentsWorkflow at the end of a (non-dry) run, by drift kind. */
  reconcileDrift: 'tempo_armado_sync_reconcile_drift',
  reconcileSyncsStarted: 'tempo_armado_sync_reconcile_syncs_started',
  /** The backlog, sampled by every worker (operations/backlog.ts): alert on their max. */
  openPayments: 'tempo_armado_sync_open_payments',
  oldestOpenPaymentAge: 'tempo_armado_sync_oldest_open_payment_age_seconds',
  ledgerBacklogRows: 'tempo_armado_sync_ledger_backlog_rows',
  ledgerOldestQueuedAge: 'tempo_armado_sync_ledger_oldest_queued_age_seconds',
  ledgerFailedWrites: 'tempo_armado_sync_ledger_failed_writes',
  reconcileLastCompleted: 'tempo_armado_sync_reconcile_last_completed_timestamp_seconds',
  reconcileLastDrift: 'tempo_armado_sync_reconcile_last_drift',
  backlogSampled: 'tempo_armado_sync_backlog_sampled_timestamp_seconds',
  ledgerSampled: 'tempo_armado_sync_ledger_sampled_timestamp_seconds',
  backlogVisibilityCalls: 'tempo_armado_sync_backlog_visibility_calls',
} as const;

export function businessMetricsFrom(meter: MetricMeter): BusinessMetrics {
  const latency: MetricHistogram = meter.createHistogram(METRIC.apiRequestDuration, 'int', 'ms', 'Duration of calls to Tempo, Armado and Google Sheets, by system and HTTP status');
  const auth: MetricCounter = meter.createCounter(METRIC.authFailures, '', 'Credentials refused (401/403), by system');
  const notFound = meter.createCounter(METRIC.billNotFound, '', 'Armado bill searches that found no bill with the invoice number as reference');
  const ambiguous = meter.createCounter(METRIC.billAmbiguous, '', 'Armado bill searches that found several bills with the same reference');
  return {
    apiRequest: (system, status, ms) => latency.record(Math.max(0, Math.round(ms)), { system, status: String(status) }),
    authFailure: (system) => auth.add(1, { system }),
    billNotFound: () => notFound.add(1),
    billAmbiguous: () => ambiguous.add(1),
  };
}
