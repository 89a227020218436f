// The ledger's single writer per spreadsheet tab: it gathers the rows that payment runs queue, writes them
// in one keyed batch, then answers each run by signal (the protocol, both sides: ledger-protocol.ts). It never
// fails on what it is sent, never waits on one run, and keeps its history and its continue-as-new input bounded
// however long Google Sheets is down.
import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  continueAsNew,
  makeContinueAsNewFunc,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureMessageOf, failureTypeOf, NON_RETRYABLE_TYPES } from '../domain/errors';
import { REPLY_LEDGER_OPTIONS, writeLedgerBatchOptions } from './activity-options';
import type { AddressedReply, LedgerBatchOutcome } from '../activities/ledger-writer';
import {
  enqueueLedgerRowSignal,
  enqueueLedgerRowsSignal,
  FALLBACK_LEDGER_SETTINGS,
  LEDGER_BACKLOG_MEMO,
  LEDGER_BATCHES_PATCH,
  type LedgerBacklogMemo,
  type QueuedLedgerRequest,
  isLegacyLedgerInput,
  ledgerSchemas,
  ledgerStatusQuery,
  PendingRequests,
  writeBackoffMs,
  type LedgerRequest,
  type LedgerSettings,
  type LedgerWriterInput,
  type LegacyLedgerWorkflowInput,
} from './ledger-protocol';
import { legacyPaymentLedgerWorkflow } from './legacy/payment-ledger-v1';

const { replyLedgerRequests } = proxyActivities<Activities>(REPLY_LEDGER_OPTIONS);

function writeLedgerBatch(settings: LedgerSettings, args: Parameters<Activities['writeLedgerBatch']>[0]): Promise<LedgerBatchOutcome> {
  const { writeLedgerBatch: write } = proxyActivities<Activities>({
    ...writeLedgerBatchOptions(settings),
    // Cancelled when the writer must roll over: the attempt stops (it heartbeats) before its rows are carried on.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  return write(args);
}

/** The settings come once with a batch signal and a continue-as-new: not again with each of its requests. */
function withoutSettings({ settings: _settings, ...request }: LedgerRequest): QueuedLedgerRequest {
  return request;
}

/** The batch inputs a writer run schedules before it continues as new (a batch of 200 rows is about 65 KB). */
const MAX_SCHEDULED_BYTES = 2 * 1024 * 1024;

/** How long the writer waits, once it has told workers to hold their signals, before it continues as new. */
const ROLLOVER_HOLD_MS = 2_000;

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

export async function paymentLedgerWorkflow(input: LedgerWriterInput | LegacyLedgerWorkflowInput): Promise<void> {
  // A writer started before v2 (or its continuation) keeps its own protocol until its runs are done.
  if (isLegacyLedgerInput(input)) return legacyPaymentLedgerWorkflow(input);

  let settings = input.settings ?? FALLBACK_LEDGER_SETTINGS;
  const pending = new PendingRequests(
    input.pending?.map((r) => ({ ...r, settings: r.settings ?? settings })),
    input.pendingSince,
  );
  const stats = { rowsWritten: 0, batchesWritten: 0, rejectedSignals: 0, failedWrites: 0 };
  const { request: requestSchema, requestBatch: batchSchema } = ledgerSchemas();
  /** The writer's pace over its last full batch, published with its backlog so that runs know how long to wait. */
  let rowsPerSecond: number | null = input.rowsPerSecond ?? null;

  setHandler(ledgerStatusQuery, () => {
    const { rows, oldestQueuedAt } = pending.backlog();
    return { pending: pending.size, backlog: rows, oldestQueuedAt, ...stats };
  });
  // A signal is a door anyone with access can knock on: what is wrong is logged (never the payload) and dropped.
  const rejected = (what: string, issues: { path: PropertyKey[]; message: string }[]) => {
    stats.rejectedSignals += 1;
    log.warn(what, { problems: issues.slice(0, 5).map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`) });
  };
  const accept = (raw: unknown) => {
    const request = requestSchema.safeParse(raw);
    if (!request.success) return rejected('ledger request rejected', request.error.issues);
    settings = request.data.settings;
    pending.accept(request.data);
  };
  setHandler(enqueueLedgerRowSignal, accept);
  // A writer that takes batches says so with its backlog in its memo: workers send it batches only then. A run
  // started before (replayed here, no marker) keeps ignoring them as its code did, or its replay would diverge.
  const takesBatches = patched(LEDGER_BATCHES_PATCH);
  const backlogOf = (rows: number, rollingOver = false): LedgerBacklogMemo => ({ rows, rowsPerSecond, at: Date.now(), ...(rollingOver ? { rollingOver } : {}) });
  const publishBacklog = (rollingOver = false) => {
    if (takesBatches) upsertMemo({ [LEDGER_BACKLOG_MEMO]: backlogOf(pending.backlog().rows, rollingOver) });
  };
  if (takesBatches) {
    setHandler(enqueueLedgerRowsSignal, (raw: unknown) => {
      const batch = batchSchema.safeParse(raw);
      if (!batch.success) return rejected('ledger request batch rejected', batch.error.issues);
      for (const request of batch.data.requests) accept(typeof request === 'object' && request !== null ? { ...request, settings: batch.data.settings } : request);
    });
    publishBacklog();
  }

  // Rows take fewer events since they come in batches, so the event count alone no longer bounds the history's
  // bytes: through a day-long Sheets outage one run held some 150 failed batch writes of 200 rows each, and its
  // history came back in pages over gRPC's 4 MB. The writer counts what it schedules itself (the server's own
  // suggestion depends on the server: the time-skipping one gives none).
  let scheduledBytes = 0;
  const rolloverDue = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > settings.rolloverAfterEvents || (takesBatches && scheduledBytes > MAX_SCHEDULED_BYTES);
  };

  for (;;) {
    await condition(() => pending.size > 0 || rolloverDue());
    if (rolloverDue()) {
      if (takesBatches) {
        // Workers read the memo before each signal: they hold theirs, and those already on their way arrive.
        publishBacklog(true);
        await sleep(ROLLOVER_HOLD_MS);
      }
      // Bounded: rows past maxCarried are queued again by their runs when their wait for an answer ends.
      const carried = pending.first(settings.maxCarried);
      const next: LedgerWriterInput = {
        spreadsheetId: input.spreadsheetId,
        sheetName: input.sheetName,
        settings,
        pending: carried.map(withoutSettings),
        pendingSince: pending.sinceOf(carried),
        rowsPerSecond,
      };
      // The next run starts with its backlog published (the server does not carry a memo over): workers keep sending
      // it batches while its first task waits its turn, instead of one signal per row to a writer they cannot tell.
      if (takesBatches) await makeContinueAsNewFunc<typeof paymentLedgerWorkflow>({ memo: { [LEDGER_BACKLOG_MEMO]: backlogOf(carried.length) } })(next);
      await continueAsNew<typeof paymentLedgerWorkflow>(next);
    }
    const cycleStart = Date.now();
    if (settings.batchWindowMs > 0 && pending.size < settings.maxBatch) await sleep(settings.batchWindowMs);

    const batch = pending.take(settings.maxBatch);
    publishBacklog();
    scheduledBytes += JSON.stringify(batch).length;
    let outcome: LedgerBatchOutcome;
    try {
      const written = await writeUnlessRolloverDue(settings, { spreadsheetId: input.spreadsheetId, sheetName: input.sheetName, requests: batch.map(withoutSettings) }, rolloverDue);
      if (written === 'rollover') {
        pending.putBack(batch);
        continue;
      }
      outcome = written;
      stats.failedWrites = 0;
    } catch (err) {
      const type = failureTypeOf(err);
      if (!(NON_RETRYABLE_TYPES as readonly string[]).includes(type)) {
        // Sheets unreachable: keep the rows and wait.
        stats.failedWrites += 1;
        pending.putBack(batch);
        log.warn('ledger batch not written; trying again later', { rows: batch.length, failedWrites: stats.failedWrites, type });
        await condition(rolloverDue, writeBackoffMs(stats.failedWrites));
        continue;
      }
      // A cause no retry fixes (credentials, missing tab): every run of the batch fails with it, for an operator.
      const error = { type, message: failureMessageOf(err).slice(0, 2000) };
      outcome = { written: batch.map((r) => ({ requestId: r.requestId, error })), dropped: [], writeRequests: 0 };
    }
    pending.written(batch);
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
    // Measured on full batches only (a small one says how few rows came, not how fast they go), from the start of
    // the cycle: gathering, writing and answering.
    if (batch.length >= settings.maxBatch / 2) rowsPerSecond = Math.round((batch.length / Math.max(1, Date.now() - cycleStart)) * 1_000_000) / 1000;
  }
}
