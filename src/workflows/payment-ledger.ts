// The ledger's single writer per spreadsheet tab: it gathers the rows that payment runs queue, writes them
// in one keyed batch, then answers each run by signal. It never fails on what it is sent, never waits on one
// run, and keeps its history and its continue-as-new input bounded however long Google Sheets is down.
import { ActivityCancellationType, CancellationScope, condition, continueAsNew, log, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureMessageOf, failureTypeOf, NON_RETRYABLE_TYPES } from '../domain/errors';
import { REPLY_LEDGER_OPTIONS, writeLedgerBatchOptions } from './activity-options';
import type { AddressedReply, LedgerBatchOutcome } from '../activities/ledger-writer';
import {
  isLegacyLedgerInput,
  enqueueLedgerRowSignal,
  LedgerRequestSchema,
  ledgerStatusQuery,
  type LedgerRequest,
  type LedgerSettings,
  type LedgerWriterInput,
  type LegacyLedgerWorkflowInput,
} from './ledger-contract';
import { legacyPaymentLedgerWorkflow } from './legacy/payment-ledger-v1';

/** Used until the first request brings the worker's own settings (a writer started by hand). */
const FALLBACK_SETTINGS: LedgerSettings = { batchWindowMs: 2_000, maxBatch: 200, rolloverAfterEvents: 4_000, maxCarried: 500, writeTimeoutMs: 130_000 };
/** Waits between failed batch writes (Sheets down): the write itself already retried for a few minutes. */
const WRITE_BACKOFF_MS = [30_000, 60_000, 120_000, 300_000];

const { replyLedgerRequests } = proxyActivities<Activities>(REPLY_LEDGER_OPTIONS);

function writeLedgerBatch(settings: LedgerSettings, args: Parameters<Activities['writeLedgerBatch']>[0]): Promise<LedgerBatchOutcome> {
  const { writeLedgerBatch: write } = proxyActivities<Activities>({
    ...writeLedgerBatchOptions(settings),
    // Cancelled when the writer must roll over: the attempt stops (it heartbeats) before its rows are carried on.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  return write(args);
}

/** How long a cancelled batch write may take to stop before the writer rolls over anyway. */
const CANCEL_GRACE_MS = 30_000;

/**
 * The batch write, given up (its rows are kept) as soon as the writer must roll over: signals arriving while it is
 * retried would otherwise grow the history past the threshold by several events per waiting run. The attempt in
 * flight is asked to stop and given CANCEL_GRACE_MS to do so (it heartbeats every 2 s); the writer never waits on
 * it longer, whatever the server makes of the cancellation.
 */
async function writeUnlessRolloverDue(
  settings: LedgerSettings,
  args: Parameters<Activities['writeLedgerBatch']>[0],
  rolloverDue: () => boolean,
): Promise<LedgerBatchOutcome | 'rollover'> {
  const writing = new CancellationScope();
  const write = writing.run(() => writeLedgerBatch(settings, args));
  const watching = new CancellationScope();
  const due = watching
    .run(() => condition(rolloverDue))
    .then(
      () => 'rollover' as const,
      () => undefined, // the write ended first
    );
  try {
    const first = await Promise.race([write, due]);
    if (first !== 'rollover') return first as LedgerBatchOutcome;
    writing.cancel();
    await Promise.race([write.catch(() => undefined), sleep(CANCEL_GRACE_MS)]);
    return 'rollover';
  } finally {
    watching.cancel();
  }
}

/** Request ids are `<runId>/<write>/<attempt>`: within one run, a later write or attempt is newer. */
function isNewerRequest(a: LedgerRequest, b: LedgerRequest): boolean {
  const [runA, writeA, attemptA] = a.requestId.split('/');
  const [runB, writeB, attemptB] = b.requestId.split('/');
  if (runA !== runB) return false; // another run of the workflow (a reset): the latest arrival wins
  return Number(writeA) > Number(writeB) || (Number(writeA) === Number(writeB) && Number(attemptA) > Number(attemptB));
}

export async function paymentLedgerWorkflow(input: LedgerWriterInput | LegacyLedgerWorkflowInput): Promise<void> {
  // A writer started before v2 (or its continuation) keeps its own protocol until its runs are done.
  if (isLegacyLedgerInput(input)) return legacyPaymentLedgerWorkflow(input);

  let settings = input.settings ?? FALLBACK_SETTINGS;
  /** One request per payment run (by workflow id): a newer one of the same run replaces it in place. */
  const pending = new Map<string, LedgerRequest>();
  const stats = { rowsWritten: 0, batchesWritten: 0, rejectedSignals: 0, failedWrites: 0 };
  const accept = (request: LedgerRequest) => {
    const current = pending.get(request.replyTo.workflowId);
    // A signal from an attempt that timed out can arrive after its successor's: the newer request stays.
    if (current && isNewerRequest(current, request)) return;
    pending.set(request.replyTo.workflowId, request);
  };
  for (const request of input.pending ?? []) accept(request);

  setHandler(ledgerStatusQuery, () => ({ pending: pending.size, ...stats }));
  setHandler(enqueueLedgerRowSignal, (raw: unknown) => {
    const request = LedgerRequestSchema.safeParse(raw);
    if (!request.success) {
      // A signal is a door anyone with access can knock on: log what was wrong (never the payload) and drop it.
      stats.rejectedSignals += 1;
      log.warn('ledger request rejected', { problems: request.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`) });
      return;
    }
    settings = request.data.settings;
    accept(request.data);
  });

  const rolloverDue = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > settings.rolloverAfterEvents;
  };

  for (;;) {
    await condition(() => pending.size > 0 || rolloverDue());
    if (rolloverDue()) {
      // Bounded: rows past maxCarried are queued again by their runs when their wait for an answer ends.
      const carried = [...pending.values()].slice(0, settings.maxCarried);
      await continueAsNew<typeof paymentLedgerWorkflow>({ spreadsheetId: input.spreadsheetId, sheetName: input.sheetName, settings, pending: carried });
    }
    if (settings.batchWindowMs > 0 && pending.size < settings.maxBatch) await sleep(settings.batchWindowMs);

    const batch = [...pending.values()].slice(0, settings.maxBatch);
    for (const request of batch) pending.delete(request.replyTo.workflowId);
    // Rows not written go back in front of the queue; a newer request of the same run, arrived meanwhile, wins.
    const keep = () => {
      const kept = new Map(batch.filter((r) => !pending.has(r.replyTo.workflowId)).map((r) => [r.replyTo.workflowId, r] as const));
      for (const [id, r] of pending) kept.set(id, r);
      pending.clear();
      for (const [id, r] of kept) pending.set(id, r);
    };
    let outcome: LedgerBatchOutcome;
    try {
      const written = await writeUnlessRolloverDue(settings, { spreadsheetId: input.spreadsheetId, sheetName: input.sheetName, requests: batch }, rolloverDue);
      if (written === 'rollover') {
        keep();
        continue;
      }
      outcome = written;
      stats.failedWrites = 0;
    } catch (err) {
      const type = failureTypeOf(err);
      if (!(NON_RETRYABLE_TYPES as readonly string[]).includes(type)) {
        // Sheets unreachable: keep the rows and wait.
        stats.failedWrites += 1;
        keep();
        log.warn('ledger batch not written; trying again later', { rows: batch.length, failedWrites: stats.failedWrites, type });
        await condition(rolloverDue, WRITE_BACKOFF_MS[Math.min(stats.failedWrites, WRITE_BACKOFF_MS.length) - 1] as number);
        continue;
      }
      // A cause no retry fixes (credentials, missing tab): every run of the batch fails with it, for an operator.
      const error = { type, message: failureMessageOf(err).slice(0, 2000) };
      outcome = { written: batch.map((r) => ({ requestId: r.requestId, error })), dropped: [], writeRequests: 0 };
    }
    stats.rowsWritten += outcome.written.length;
    stats.batchesWritten += 1;
    const replyTo = new Map(batch.map((r) => [r.requestId, r.replyTo]));
    const replies: AddressedReply[] = outcome.written.map((reply) => ({ ...reply, replyTo: replyTo.get(reply.requestId) as LedgerRequest['replyTo'] }));
    if (replies.length > 0) {
      try {
        await replyLedgerRequests({ replies });
      } catch (err) {
        // Their rows are written; a run that missed its answer queues again and is answered from the sheet.
        log.warn('ledger replies not delivered', { runs: replies.length, type: failureTypeOf(err) });
      }
    }
  }
}
