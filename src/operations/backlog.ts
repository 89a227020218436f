// What waits, for what, and since when: the backlog an operator asks about at 9 am, sampled from Temporal's
// visibility and the service's own state on a fixed period, and exported as gauges on the worker's /metrics.
//
// Its cost does not grow with the number of open runs: counts (never lists) of open payment runs, one query to
// the ledger writer, and one short list of the latest reconciliations: 12 to about 20 visibility calls a sample
// (`tempo_armado_sync_backlog_visibility_calls` counts them), once a minute by default, whatever the backlog.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { DRIFT_KINDS, type ReconcileSummary } from '../domain/reconciliation';
import { METRIC } from '../metrics';
import { WAITING_FOR, type WaitingFor } from '../workflows/contract';
import { ledgerStatusQuery, ledgerWriterId } from '../workflows/ledger-protocol';

export interface BacklogOptions {
  taskQueue: string;
  spreadsheetId: string;
  sheetName: string;
}

export interface BacklogSample {
  /** Open payment runs by what they wait for (`none`: running its steps). */
  openPayments: Record<WaitingFor | 'none', number>;
  /** Age of the oldest open payment run, to within 2 % (0 when none is open). */
  oldestOpenPaymentAgeSeconds: number;
  /** Undefined when the writer did not answer in time (busy, or queries refused): its gauges keep their last values. */
  ledger?: { backlogRows: number; oldestQueuedAgeSeconds: number; failedWrites: number };
  /** The latest reconciliation of the whole ledger that completed (dry and single-invoice runs aside). */
  lastReconciliation?: { closedAt: Date; drift: ReconcileSummary['drift'] };
  visibilityCalls: number;
}

/** The oldest open run is found by bisection on its start time, counted: log-many calls, never a list. */
const MAX_AGE_SECONDS = 400 * 86_400;
const CALL_DEADLINE_MS = 10_000;
/** How many of the latest completed reconciliations are looked through for a full one. */
const RECONCILIATIONS_LOOKED_AT = 20;

/** What the sampler keeps of a completed reconciliation: a closed run's result never changes, so it is read once. */
type ReconciliationFacts = Pick<ReconcileSummary, 'dryRun' | 'invoice' | 'drift'>;

export class BacklogSampler {
  /** By run id, only for the runs of the latest list (so it never grows); a result that could not be read is not kept. */
  private summaries = new Map<string, ReconciliationFacts>();

  constructor(
    private readonly client: Client,
    private readonly options: BacklogOptions,
  ) {}

  async sample(now = new Date()): Promise<BacklogSample> {
    let calls = 0;
    const count = async (query: string) => {
      calls += 1;
      return (await this.withinDeadline(() => this.client.workflow.count(query))).count;
    };
    const open = `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${this.options.taskQueue}" AND ExecutionStatus="Running"`;
    const total = await count(open);
    const openPayments = { none: total } as BacklogSample['openPayments'];
    for (const kind of WAITING_FOR) {
      openPayments[kind] = total === 0 ? 0 : await count(`${open} AND SyncWaitingFor="${kind}"`);
      // Counts are not taken at one instant (visibility is eventually consistent): never below zero.
      openPayments.none = Math.max(0, openPayments.none - openPayments[kind]);
    }
    const olderThan = async (seconds: number) => (await count(`${open} AND StartTime < "${new Date(now.getTime() - seconds * 1000).toISOString()}"`)) > 0;
    const oldestOpenPaymentAgeSeconds = total === 0 ? 0 : await oldestAge(olderThan);

    // The writer answers a query only from its next workflow task: under a burst it may not in time. The rest of
    // the sample stands without it.
    const ledger = await this.ledgerBacklog(now).catch(() => undefined);
    const { reconciliation, listCalls } = await this.lastReconciliation();
    calls += listCalls;
    return { openPayments, oldestOpenPaymentAgeSeconds, ledger, lastReconciliation: reconciliation, visibilityCalls: calls };
  }

  /** Every call of a sample is bounded: a hung one must not stop the sampling for good. */
  private withinDeadline<T>(call: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, call);
  }

  private async ledgerBacklog(now: Date): Promise<BacklogSample['ledger']> {
    const writer = ledgerWriterId(this.options.spreadsheetId, this.options.sheetName, this.options.taskQueue);
    try {
      // A query needs a worker to answer it: bounded, so that a busy or stopping fleet does not hold the sample.
      const status = await this.withinDeadline(() => this.client.workflow.getHandle(writer).query(ledgerStatusQuery));
      const backlogRows = status.backlog ?? status.pending;
      const oldest = status.oldestQueuedAt ?? null;
      return { backlogRows, oldestQueuedAgeSeconds: oldest === null ? 0 : Math.max(0, Math.round((now.getTime() - oldest) / 1000)), failedWrites: status.failedWrites };
    } catch (err) {
      // No writer yet (no payment since the tab was created): nothing queued.
      if (err instanceof WorkflowNotFoundError) return { backlogRows: 0, oldestQueuedAgeSeconds: 0, failedWrites: 0 };
      throw err;
    }
  }

  private async lastReconciliation(): Promise<{ reconciliation?: BacklogSample['lastReconciliation']; listCalls: number }> {
    const query = `WorkflowType="reconcilePaymentsWorkflow" AND TaskQueue="${this.options.taskQueue}" AND ExecutionStatus="Completed"`;
    const closed = await this.withinDeadline(async () => {
      const runs: { workflowId: string; runId: string; closeTime: Date }[] = [];
      for await (const run of this.client.workflow.list({ query, pageSize: RECONCILIATIONS_LOOKED_AT })) {
        if (run.closeTime) runs.push({ workflowId: run.workflowId, runId: run.runId, closeTime: run.closeTime });
        if (runs.length >= RECONCILIATIONS_LOOKED_AT) break;
      }
      return runs;
    });
    closed.sort((a, b) => b.closeTime.getTime() - a.closeTime.getTime());
    const kept = new Map<string, ReconciliationFacts>();
    let reconciliation: BacklogSample['lastReconciliation'];
    for (const run of closed) {
      let facts = this.summaries.get(run.runId);
      if (!facts) {
        const summary = await this.withinDeadline(
          () => this.client.workflow.getHandle(run.workflowId, run.runId, { followRuns: false }).result() as Promise<ReconcileSummary>,
        ).catch(
          () => undefined, // read again at the next sample
        );
        if (summary) facts = { dryRun: summary.dryRun, invoice: summary.invoice, drift: summary.drift };
      }
      if (!facts) continue;
      kept.set(run.runId, facts);
      if (!reconciliation && !facts.dryRun && !facts.invoice) reconciliation = { closedAt: run.closeTime, drift: facts.drift };
      if (reconciliation) break;
    }
    this.summaries = kept;
    return { reconciliation, listCalls: 1 };
  }
}

/**
 * The age of the oldest open run from "is any open run older than s?" questions: doubling up to the first "no",
 * then halving the gap down to 2 % of the age (or a second).
 */
export async function oldestAge(olderThan: (seconds: number) => Promise<boolean>): Promise<number> {
  let lo = 0;
  let hi = 60;
  while (hi < MAX_AGE_SECONDS && (await olderThan(hi))) {
    lo = hi;
    hi *= 4;
  }
  while (hi - lo > Math.max(1, lo * 0.02)) {
    const mid = Math.round((lo + hi) / 2);
    if (await olderThan(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The gauges on the runtime's meter; set from each sample. */
export function backlogGauges(meter: MetricMeter) {
  const openPayments = meter.createGauge(METRIC.openPayments, 'int', '', 'Open payment runs, by what they wait for (bill, ledger, api-retry, none)');
  const oldestOpen = meter.createGauge(METRIC.oldestOpenPaymentAge, 'int', '', 'Age of the oldest open payment run, in seconds (0: none open)');
  const ledgerRows = meter.createGauge(METRIC.ledgerBacklogRows, 'int', '', 'Rows queued in the ledger writer or being written, not yet in the sheet');
  const ledgerOldest = meter.createGauge(METRIC.ledgerOldestQueuedAge, 'int', '', 'How long the oldest row not yet in the sheet has waited, in seconds (0: none)');
  const ledgerFailed = meter.createGauge(METRIC.ledgerFailedWrites, 'int', '', "The ledger writer's consecutive failed batch writes (Sheets unreachable)");
  const lastReconciled = meter.createGauge(METRIC.reconcileLastCompleted, 'int', '', 'When the last full reconciliation completed (seconds since the epoch)');
  const lastDrift = meter.createGauge(METRIC.reconcileLastDrift, 'int', '', 'What the last full reconciliation found, by kind');
  const sampledAt = meter.createGauge(METRIC.backlogSampled, 'int', '', 'When the backlog was last sampled (seconds since the epoch)');
  const ledgerSampledAt = meter.createGauge(METRIC.ledgerSampled, 'int', '', 'When the ledger writer last answered the sampler (seconds since the epoch)');
  const calls = meter.createCounter(METRIC.backlogVisibilityCalls, '', 'Visibility calls made by the backlog sampler');
  return (sample: BacklogSample, at: Date) => {
    for (const [waitingFor, n] of Object.entries(sample.openPayments)) openPayments.set(n, { waiting_for: waitingFor });
    oldestOpen.set(sample.oldestOpenPaymentAgeSeconds);
    if (sample.ledger) {
      ledgerRows.set(sample.ledger.backlogRows);
      ledgerOldest.set(sample.ledger.oldestQueuedAgeSeconds);
      ledgerFailed.set(sample.ledger.failedWrites);
      ledgerSampledAt.set(Math.floor(at.getTime() / 1000));
    }
    if (sample.lastReconciliation) {
      lastReconciled.set(Math.floor(sample.lastReconciliation.closedAt.getTime() / 1000));
      for (const kind of DRIFT_KINDS) lastDrift.set(sample.lastReconciliation.drift[kind] ?? 0, { kind });
    }
    sampledAt.set(Math.floor(at.getTime() / 1000));
    calls.add(sample.visibilityCalls);
  };
}

/**
 * Samples every `intervalMs` (from the end of one sample to the start of the next) until stopped; a failed sample
 * is reported and the gauges keep their last values. Stopping does not wait for a sample in flight: the worker is
 * going away, and its connection with it.
 */
export function startBacklogSampler(
  sampler: BacklogSampler,
  publish: (sample: BacklogSample, at: Date) => void,
  intervalMs: number,
  onError: (err: unknown) => void,
): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const at = new Date();
    try {
      const sample = await sampler.sample(at);
      if (!stopped) publish(sample, at);
    } catch (err) {
      if (!stopped) onError(err);
    }
    if (!stopped) {
      timer = setTimeout(() => void tick(), intervalMs);
      timer.unref();
    }
  };
  void tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
