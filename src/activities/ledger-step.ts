// The payment run's ledger step: it hands its row to the spreadsheet tab's single writer, which answers
// the run by signal once the row is written. The run, not this activity, waits for that answer.
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ErrorType, permanentFailure, transientFailure } from '../domain/errors';
import type { LedgerRow } from '../domain/shapes';
import { eachLimited } from './ledger-writer';
import {
  backlogDrainMs,
  enqueueLedgerRowSignal,
  enqueueLedgerRowsSignal,
  LEDGER_BACKLOG_MEMO,
  LEDGER_WRITER_PRIORITY,
  MAX_REQUESTS_PER_SIGNAL,
  type LedgerBacklogMemo,
  type LedgerRequest,
  legacyEnqueueLedgerRowSignal,
  legacyLedgerWorkflowId,
  ledgerRequestId,
  ledgerSchemas,
  ledgerWriterId,
  type LedgerSettings,
  type LedgerWriterInput,
  type LegacyLedgerWorkflowInput,
} from '../workflows/ledger-protocol';

export interface LedgerStepActivityDeps {
  spreadsheetId: string;
  sheetName: string;
  settings: LedgerSettings;
}

export interface QueueLedgerRowArgs {
  row: LedgerRow;
  /** Which of the run's ledger writes (1: the row, 2: the bill id fill-in) and which time it is queued. */
  write: number;
  attempt: number;
}

export interface LedgerRowQueued {
  queued: true;
  requestId: string;
  writer: string;
  /** How long the writer needed for the rows it already had (its last report): the run waits at least that long. */
  writerBacklogMs?: number;
}

interface Waiting {
  request: LedgerRequest;
  resolve: (backlogMs: number) => void;
  reject: (err: unknown) => void;
}

interface WriterLine {
  client: Client;
  taskQueue: string;
  start: LedgerWriterInput;
  waiting: Waiting[];
  sending: boolean;
  scheduled: boolean;
  lastSentAt: number;
}

/** A worker sends one writer at most one signal this often: the requests made meanwhile go together. */
const SIGNAL_SPACING_MS = 200;

/**
 * A worker's requests to one writer go in one signal at a time, at most one every SIGNAL_SPACING_MS: those made
 * meanwhile go together in the next (so an idle writer gets a row at once, a busy one a burst's rows in a few
 * signals). Each signal is an event in the writer's history; a burst of 5,000 payments, one signal each, made it
 * roll over every 4,000 events and carry at most `maxCarried` rows, so thousands of runs queued again. A writer
 * says by its memo that it takes batches (it publishes its backlog there); one that does not runs code from
 * before them and gets one signal per request. Every caller learns what the writer had ahead of its row.
 */
export class LedgerRequestGatherer {
  private readonly lines = new Map<string, WriterLine>();

  constructor(private readonly spacingMs = SIGNAL_SPACING_MS) {}

  queue(client: Client, writer: string, taskQueue: string, start: LedgerWriterInput, request: LedgerRequest): Promise<number> {
    let line = this.lines.get(writer);
    if (!line) {
      line = { client, taskQueue, start, waiting: [], sending: false, scheduled: false, lastSentAt: 0 };
      this.lines.set(writer, line);
    }
    const answer = new Promise<number>((resolve, reject) => line.waiting.push({ request, resolve, reject }));
    if (!line.sending && !line.scheduled) this.schedule(writer, line);
    return answer;
  }

  /** On a later turn of the event loop at the soonest, so that the runs of one workflow-task batch go together. */
  private schedule(writer: string, line: WriterLine): void {
    line.scheduled = true;
    setTimeout(
      () => {
        line.scheduled = false;
        this.send(writer, line);
      },
      Math.max(0, line.lastSentAt + this.spacingMs - Date.now()),
    );
  }

  private send(writer: string, line: WriterLine): void {
    const batch = line.waiting.splice(0, MAX_REQUESTS_PER_SIGNAL);
    if (batch.length === 0) return;
    line.sending = true;
    line.lastSentAt = Date.now();
    signalWriter(
      line,
      writer,
      batch.map((w) => w.request),
    )
      .then(
        (backlogMs) => batch.forEach((w) => w.resolve(backlogMs)),
        (err: unknown) => batch.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        line.sending = false;
        if (line.waiting.length > 0) this.schedule(writer, line);
      });
  }
}

async function signalWriter({ client, taskQueue, start }: WriterLine, writer: string, requests: LedgerRequest[]): Promise<number> {
  let state = await writerState(client, writer);
  // A writer about to continue as new asks for a moment without signals (see LedgerBacklogMemo); never for long.
  for (const holdUntil = Date.now() + MAX_HOLD_MS; state.rollingOver && Date.now() < holdUntil;) {
    await new Promise((resolve) => setTimeout(resolve, HOLD_CHECK_MS));
    state = await writerState(client, writer);
  }
  const { takesBatches, backlogMs } = state;
  // A writer this signal starts runs this worker's code: it takes batches, and says so from its first moment.
  const memo = { [LEDGER_BACKLOG_MEMO]: { rows: 0, rowsPerSecond: null, at: Date.now() } satisfies LedgerBacklogMemo };
  const options = { workflowId: writer, taskQueue, args: [start], memo, priority: LEDGER_WRITER_PRIORITY };
  if (takesBatches) {
    const batch = { settings: start.settings as LedgerSettings, requests: requests.map(({ settings: _settings, ...request }) => request) };
    await client.workflow.signalWithStart('paymentLedgerWorkflow', { ...options, signal: enqueueLedgerRowsSignal, signalArgs: [batch] });
  } else
    await eachLimited(
      requests,
      16,
      async (request) => void (await client.workflow.signalWithStart('paymentLedgerWorkflow', { ...options, signal: enqueueLedgerRowSignal, signalArgs: [request] })),
    );
  return backlogMs;
}

/** How often a worker looks again at a writer that is rolling over, and how long it holds its signal at most. */
const HOLD_CHECK_MS = 250;
const MAX_HOLD_MS = 10_000;

interface WriterState {
  takesBatches: boolean;
  backlogMs: number;
  rollingOver: boolean;
}

/** The writer's backlog as it last published it; a writer not running yet is started by this worker's code. */
async function writerState(client: Client, writer: string): Promise<WriterState> {
  try {
    const description = await client.workflow.getHandle(writer).describe();
    if (description.status.name !== 'RUNNING') return { takesBatches: true, backlogMs: 0, rollingOver: false };
    const memo = description.memo?.[LEDGER_BACKLOG_MEMO];
    const rollingOver = typeof memo === 'object' && memo !== null && (memo as { rollingOver?: unknown }).rollingOver === true;
    return { takesBatches: memo !== undefined, backlogMs: backlogDrainMs(memo, Date.now()), rollingOver };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { takesBatches: true, backlogMs: 0, rollingOver: false };
    throw err;
  }
}

function isQueueArgs(args: LedgerRow | QueueLedgerRowArgs): args is QueueLedgerRowArgs {
  return typeof args === 'object' && args !== null && 'write' in args;
}

export function createLedgerStepActivities(deps: LedgerStepActivityDeps) {
  const gatherer = new LedgerRequestGatherer();
  return {
    /**
     * Queues the run's row with the writer of this tab (started if need be). Idempotent: the writer keeps one
     * request per run, the latest. Runs started before v2 pass a bare row and wait here (their old protocol).
     */
    async updatePaymentSheet(args: QueueLedgerRowArgs | LedgerRow): Promise<LedgerRowQueued> {
      const ctx = Context.current();
      if (!isQueueArgs(args)) return queueLegacyRow(ctx, deps, args);
      const { workflowId, runId } = ctx.info.workflowExecution as { workflowId: string; runId: string };
      // Named after the run that really sends it and kept in its history as this activity's result: a run
      // reset past this point knows the request as its own, and a reset run never mistakes an older answer.
      const requestId = ledgerRequestId(runId, args.write, args.attempt);
      const writer = ledgerWriterId(deps.spreadsheetId, deps.sheetName, ctx.info.taskQueue);
      // Checked with the writer's own schema: a request the writer would drop must fail here, loudly.
      const request = ledgerSchemas().request.safeParse({ requestId, row: args.row, replyTo: { workflowId, runId }, settings: deps.settings });
      if (!request.success) {
        throw permanentFailure(ErrorType.InvalidPaymentInput, `ledger request rejected: ${request.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      const start: LedgerWriterInput = { spreadsheetId: deps.spreadsheetId, sheetName: deps.sheetName, settings: deps.settings };
      let writerBacklogMs: number;
      try {
        writerBacklogMs = await gatherer.queue(ctx.client, writer, ctx.info.taskQueue, start, request.data);
      } catch (err) {
        throw transientFailure(
          ErrorType.ExternalApiUnavailable,
          `could not queue the ledger row of invoice ${args.row.invoiceNumber}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      ctx.log.info('ledger row queued with the tab writer', { invoiceNumber: args.row.invoiceNumber, ledgerStatus: args.row.status, writer });
      return { queued: true, requestId, writer, writerBacklogMs };
    },
  };
}

/** @deprecated The first protocol: the writer completes this activity by its task token. Only for runs started before v2. */
async function queueLegacyRow(ctx: Context, deps: LedgerStepActivityDeps, row: LedgerRow): Promise<never> {
  const ledger: LegacyLedgerWorkflowInput = {
    spreadsheetId: deps.spreadsheetId,
    sheetName: deps.sheetName,
    batchWindowMs: deps.settings.batchWindowMs,
    maxBatch: deps.settings.maxBatch,
    rolloverAfterEvents: deps.settings.rolloverAfterEvents,
  };
  try {
    await ctx.client.workflow.signalWithStart('paymentLedgerWorkflow', {
      workflowId: legacyLedgerWorkflowId(deps.spreadsheetId),
      taskQueue: ctx.info.taskQueue,
      args: [ledger as never],
      signal: legacyEnqueueLedgerRowSignal,
      signalArgs: [{ row, taskToken: Buffer.from(ctx.info.taskToken).toString('base64') }],
    });
  } catch (err) {
    throw transientFailure(ErrorType.ExternalApiUnavailable, `could not queue the ledger row of invoice ${row.invoiceNumber}: ${err instanceof Error ? err.message : String(err)}`);
  }
  throw new CompleteAsyncError();
}
