// The ledger protocol, end to end: how a payment run gets its row into the sheet through the tab's single writer.
//
//   1. request  The run's ledger step (activities/ledger-step.ts, the run's only I/O here) signals-with-start the
//               writer of its tab and task queue (`ledgerWriterId`) with a LedgerRequest (its id
//               `<runId>/<write>/<attempt>`, the row, where to answer, the worker's writer settings). A worker sends
//               the requests of its runs together, one `enqueueLedgerRows` signal at a time (`enqueueLedgerRow`,
//               one each, to a writer running code from before), and tells each run the writer's backlog.
//   2. queue    The writer (payment-ledger.ts) keeps one request per run, the newest (`PendingRequests`), and
//               writes them in keyed batches (activities/ledger-writer.ts: fresh reads before every write). Before
//               each batch it publishes its backlog and pace in its memo (`LedgerBacklogMemo`).
//   3. reply    It answers each run with `ledgerRowWritten`: a LedgerReply (written, kept out for a later payment,
//               or failed for good) naming the request. A run keeps only answers to its own requests (`LedgerSteps`).
//   4. re-queue A run with no answer in time (a lost reply, a writer that rolled over without its row, Sheets down)
//               queues the row again: after 30 s, or after the writer's backlog and half again when it is behind,
//               then twice as long each time up to LEDGER_REQUEUE_AFTER; it gives up after 3 days or 500 tries.
//               Queuing again is harmless (the writer keeps the newest) but costs both histories events.
//   5. rollover Past its history threshold the writer continues as new with at most `maxCarried` requests; the
//               runs of the others queue again (4).
//
// Every message that reaches the writer is checked with zod (a signal is a door). A payment run imports this file
// but never evaluates zod: a workflow evaluates its own copy of every module it imports, per run, and kept runs hold
// that copy in memory; zod made up half of a payment run's CPU in the worker and most of its memory (1,000 payments
// in 55.5 s and 1,753 MiB of worker RSS with it, 37.2 s and 585 MiB without). So the schemas are built on first use
// (`ledgerSchemas`, by the writer and the activities), and a run checks a reply with `parseLedgerReply`, which a
// property test holds to exactly what the reply schema accepts.
import { ApplicationFailure, condition, defineQuery, defineSignal, workflowInfo } from '@temporalio/workflow';
import type { output } from 'zod';
import type { LedgerRowQueued, QueueLedgerRowArgs } from '../activities/ledger-step';
import { ErrorType } from '../domain/errors';
import type { LedgerRow, LedgerWriteResult } from '../domain/shapes';
import type { RunRecord } from './run-record';

// ---- Names ----

/**
 * One writer per spreadsheet tab and task queue, whatever the number of workers. The tab is part of the id so
 * that a new tab (a new year) gets its own writer; the task queue so that two deployments sharing a
 * spreadsheet each write through their own workers and settings. Readable in the UI; hashed where it must be.
 */
export function ledgerWriterId(spreadsheetId: string, sheetName: string, taskQueue: string): string {
  const readable = sheetName.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40);
  return `payment-ledger-${spreadsheetId}-${readable}-${fnv1a(`${sheetName}\n${taskQueue}`)}`;
}

/** A short stable hash (FNV-1a, 32 bits) usable from workflow code, where node:crypto is not. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * The writer's tasks (and its activities, which inherit it) go before the payment runs' in their shared task queue
 * (1 is the highest of the server's 5 levels; runs have the default, 3). Every run's answer waits on the writer, and
 * with thousands of runs queued its task, behind theirs, waited 86 s after each continue-as-new (10,000 payments).
 * The server orders by priority with `matching.useNewMatcher` on, as both deployments set it.
 */
export const LEDGER_WRITER_PRIORITY = { priorityKey: 1 };

/** 1. A run's row, to its writer. (The first protocol's signal has its own name now: see the end of this file.) */
export const enqueueLedgerRowSignal = defineSignal<[LedgerRequest]>('enqueueLedgerRow');
/**
 * 1. The rows of the runs a worker queued within a few milliseconds, in one signal: every signal is an event in the
 * writer's history, and one per row made a 10,000-payment burst roll the writer over again and again.
 */
export const enqueueLedgerRowsSignal = defineSignal<[LedgerRequestBatch]>('enqueueLedgerRows');
/** 3. The writer's answer, to the run. */
export const ledgerRowWrittenSignal = defineSignal<[LedgerReply]>('ledgerRowWritten');
export const ledgerStatusQuery = defineQuery<LedgerWriterStatus>('ledgerStatus');

// ---- Messages ----

/* eslint-disable @typescript-eslint/no-require-imports */
function buildSchemas() {
  const { z } = require('zod') as typeof import('zod');
  /** The writer's batch settings: they come from the current worker configuration with every request. */
  const settings = z.object({
    /** How long the writer gathers rows after the first one arrives before writing them in one request. */
    batchWindowMs: z.number().int().min(0).max(600_000),
    maxBatch: z.number().int().min(1).max(1000),
    /** History length after which the writer continues as new. */
    rolloverAfterEvents: z.number().int().min(100).max(40_000),
    /** Queued rows carried through continue-as-new at most; their runs queue the others again. */
    maxCarried: z.number().int().min(0).max(1_000),
    /** Start-to-close of one batch write: token, description, read and two writes, each up to the Sheets timeout. */
    writeTimeoutMs: z.number().int().min(1_000).max(3_600_000),
  });
  const row = z.object({
    invoiceNumber: z.string().regex(/^\d{1,20}$/),
    status: z.enum(['Payée', 'Partiellement payée']),
    paymentMode: z.string().min(1).max(64),
    paymentDate: z.string().min(1).max(40),
    amount: z.number().finite().optional(),
    armadoBillId: z.string().min(1).max(64).optional(),
    workflowId: z.string().min(1).max(1000),
  });
  /** A payment run's row, and where to tell the run that it is written. No capability travels with it. */
  const request = z.object({
    requestId: z.string().min(1).max(200),
    row,
    replyTo: z.object({ workflowId: z.string().min(1).max(1000), runId: z.string().min(1).max(100) }),
    settings,
  });
  /** The writer's answer to one request: written (or kept, see the result's status), or failed for good. */
  const reply = z.union([
    z.object({
      requestId: z.string().min(1).max(200),
      result: z.object({
        status: z.enum(['updated', 'appended', 'kept-later-payment']),
        row: z.number().int().min(0),
        /** Runs whose settled payment this row replaced: Armado is written after they are done. */
        armadoAfter: z.array(z.string().min(1).max(1000)).max(10).optional(),
      }),
    }),
    z.object({ requestId: z.string().min(1).max(200), error: z.object({ type: z.string().max(100), message: z.string().max(2000) }) }),
  ]);
  /**
   * The requests of one worker, with its settings once. Each request is checked on its own (with the settings):
   * one the writer cannot take does not cost the others theirs.
   */
  const requestBatch = z.object({ settings: z.unknown(), requests: z.array(z.unknown()).min(1).max(MAX_REQUESTS_PER_SIGNAL) });
  return { settings, row, request, requestBatch, reply };
}
/* eslint-enable @typescript-eslint/no-require-imports */

type LedgerSchemas = ReturnType<typeof buildSchemas>;
let schemas: LedgerSchemas | undefined;

/** The messages' zod schemas, built on first use (by the writer's side and the activities, never by a payment run). */
export function ledgerSchemas(): LedgerSchemas {
  return (schemas ??= buildSchemas());
}

export type LedgerSettings = output<LedgerSchemas['settings']>;
export type LedgerRequest = output<LedgerSchemas['request']>;
export type LedgerReply = output<LedgerSchemas['reply']>;
/** A request as the writer keeps it between its runs and hands it to its batch: the settings travel once, beside. */
export type QueuedLedgerRequest = Omit<LedgerRequest, 'settings'>;
export interface LedgerRequestBatch {
  settings: LedgerSettings;
  requests: QueuedLedgerRequest[];
}
/** Requests in one enqueueLedgerRows signal at most (a 200-request signal is about 70 KB). */
export const MAX_REQUESTS_PER_SIGNAL = 200;

export interface LedgerWriterInput {
  spreadsheetId: string;
  sheetName: string;
  /** The settings of the last request seen (each request brings its worker's current ones). */
  settings?: LedgerSettings;
  /**
   * Requests queued but not yet written when the previous run continued as new (bounded by maxCarried), without
   * their settings (`settings` above); runs before request batches carried each one's own.
   */
  pending?: (QueuedLedgerRequest & { settings?: LedgerSettings })[];
  /** When each of `pending` was first queued (ms since the epoch): the backlog's age survives a rollover. */
  pendingSince?: number[];
  /** The writer's last measured pace, for the backlog it publishes. */
  rowsPerSecond?: number | null;
}

export interface LedgerWriterStatus {
  /** Rows queued, not yet taken into a batch. */
  pending: number;
  /** Rows queued or being written: not in the sheet yet. */
  backlog?: number;
  /** When the oldest of those was first queued (ms since the epoch), null when there is none. */
  oldestQueuedAt?: number | null;
  rowsWritten: number;
  batchesWritten: number;
  rejectedSignals: number;
  /** Consecutive failed batch writes (Sheets unreachable): the writer waits longer between tries. */
  failedWrites: number;
}

const STATUSES: readonly string[] = ['updated', 'appended', 'kept-later-payment'];

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.length >= min && v.length <= max;

function resultOf(v: unknown): (LedgerWriteResult & { armadoAfter?: string[] }) | undefined {
  if (!isObject(v) || typeof v.status !== 'string' || !STATUSES.includes(v.status)) return undefined;
  if (typeof v.row !== 'number' || !Number.isSafeInteger(v.row) || v.row < 0) return undefined;
  const after = v.armadoAfter;
  if (after !== undefined && !(Array.isArray(after) && after.length <= 10 && after.every((id) => isText(id, 1, 1000)))) return undefined;
  const result: LedgerWriteResult & { armadoAfter?: string[] } = { status: v.status as LedgerWriteResult['status'], row: v.row };
  if (after !== undefined) result.armadoAfter = [...(after as string[])];
  return result;
}

/** A reply, reduced to its known fields, or undefined when it is not one the writer could have sent (no zod: see the top). */
export function parseLedgerReply(raw: unknown): LedgerReply | undefined {
  if (!isObject(raw) || !isText(raw.requestId, 1, 200)) return undefined;
  const result = resultOf(raw.result);
  if (result) return { requestId: raw.requestId, result };
  const error = raw.error;
  if (isObject(error) && isText(error.type, 0, 100) && isText(error.message, 0, 2000)) return { requestId: raw.requestId, error: { type: error.type, message: error.message } };
  return undefined;
}

// ---- Request ids ----

/** Named after the run that really sends it: a run reset past the request knows it as its own. */
export function ledgerRequestId(runId: string, write: number, attempt: number): string {
  return `${runId}/${write}/${attempt}`;
}

/** Within one run, a later write or attempt is newer; between runs of a workflow (a reset) the latest arrival wins. */
function isNewerRequest(a: LedgerRequest, b: LedgerRequest): boolean {
  const [runA, writeA, attemptA] = a.requestId.split('/');
  const [runB, writeB, attemptB] = b.requestId.split('/');
  if (runA !== runB) return false;
  return Number(writeA) > Number(writeB) || (Number(writeA) === Number(writeB) && Number(attemptA) > Number(attemptB));
}

// ---- The writer's backlog, as a run sees it when it queues ----

/** The memo key under which the writer publishes its backlog, once per batch (read with the writer's description). */
export const LEDGER_BACKLOG_MEMO = 'ledgerBacklog';
/** The writer's patch that takes batches of requests (enqueueLedgerRows) and publishes its backlog. */
export const LEDGER_BATCHES_PATCH = 'ledger-request-batches';

export interface LedgerBacklogMemo {
  /** Rows queued or being written when the writer took its last batch. */
  rows: number;
  /** Its pace over its last full batch (rows per second), null until it has written one. */
  rowsPerSecond: number | null;
  /** When (ms since the epoch, the writer's workflow time). */
  at: number;
  /**
   * The writer is about to continue as new: workers hold their signals for a moment. A signal that arrives while
   * it completes makes the server refuse the continue-as-new; the SDK then replays the whole history to try again,
   * and with signals arriving every fraction of a second that loop held a writer for a minute.
   */
  rollingOver?: boolean;
}

/** The longest backlog a run plans its wait on: beyond it, the writer is down rather than behind. */
const MAX_BACKLOG_MS = 3_600_000;

/**
 * How long from `now` until the rows the writer last reported are written, at its last pace: what a row queued now
 * has ahead of it. 0 when the writer has not reported (or not written a full batch yet): the run then waits the
 * usual first delay.
 */
export function backlogDrainMs(memo: unknown, now: number): number {
  if (!isObject(memo)) return 0;
  const { rows, rowsPerSecond, at } = memo;
  if (typeof rows !== 'number' || typeof at !== 'number' || typeof rowsPerSecond !== 'number' || !(rowsPerSecond > 0) || !(rows > 0)) return 0;
  const left = rows - (rowsPerSecond * Math.max(0, now - at)) / 1000;
  return left > 0 ? Math.min(MAX_BACKLOG_MS, Math.round((left / rowsPerSecond) * 1000)) : 0;
}

// ---- The run's side: queue, wait for the answer, queue again ----

/** Used by runs whose confirmTempoUpdate predates LEDGER_REQUEUE_AFTER in its result. */
export const DEFAULT_LEDGER_REQUEUE_MS = 600_000;
/** The first wait for an answer: a lost one is noticed this soon. */
const FIRST_REQUEUE_MS = 30_000;
/** A ledger row not written after this long (Sheets down for days) fails the step for an operator. */
const LEDGER_GIVE_UP_MS = 3 * 24 * 3_600_000;
/** …or after this many times queued, whatever LEDGER_REQUEUE_AFTER is: the run's history stays bounded. */
const LEDGER_MAX_QUEUED = 500;

/**
 * How long a run waits for its answer before queuing the row again: 30 s, doubling with each try, and never less than
 * what the writer had ahead of the row (with half again as margin: its pace varies), so that a writer that is merely
 * behind is not sent the same rows again; a lost answer is still noticed within 30 s when the writer is idle.
 * At most LEDGER_REQUEUE_AFTER, and never past the step's deadline.
 */
export function answerWaitMs(attempt: number, writerBacklogMs: number, requeueAfterMs: number, remainingMs: number): number {
  const doubling = FIRST_REQUEUE_MS * 2 ** Math.min(attempt - 1, 10);
  const behindWriter = FIRST_REQUEUE_MS + Math.round(1.5 * writerBacklogMs);
  return Math.min(requeueAfterMs, Math.max(doubling, behindWriter), remainingMs);
}

export type OrderedWrite = LedgerWriteResult & { armadoAfter?: string[] };
export type QueueLedgerRow = (args: QueueLedgerRowArgs) => Promise<LedgerRowQueued>;

/** Step 3 of a payment run: the row goes to the tab's single writer, which answers by signal once it is in the sheet. */
export class LedgerSteps {
  requeueAfterMs = DEFAULT_LEDGER_REQUEUE_MS;
  private writes = 0;
  /** Requests this run made (their ids come back as the activity's result), and the one being made now. */
  private readonly asked = new Set<string>();
  private inFlight: string | undefined;
  private readonly replies = new Map<string, LedgerReply>();

  constructor(
    private readonly run: RunRecord,
    private readonly queue: QueueLedgerRow,
  ) {}

  /** Only answers to requests this run made are kept (the first of each): stale or forged ones cannot crowd them out. */
  receive(raw: unknown): void {
    const reply = parseLedgerReply(raw);
    if (!reply) return;
    const id = reply.requestId;
    if ((this.asked.has(id) || this.isInFlight(id)) && !this.replies.has(id)) this.replies.set(id, reply);
  }

  /**
   * The answer to the request being made may come before the activity's result says its id: `<run>/<write>/<attempt>`,
   * where the run is the one that ran the activity — this one, or, replaying after a reset, the run it was reset from.
   */
  private isInFlight(id: string): boolean {
    if (!this.inFlight || !id.endsWith(this.inFlight)) return false;
    const run = id.slice(0, -this.inFlight.length);
    const info = workflowInfo();
    return run === info.runId || run === info.originalExecutionRunId || [...this.asked].some((asked) => asked.startsWith(`${run}/`));
  }

  write(row: LedgerRow): Promise<OrderedWrite> {
    return this.run.step(
      'updatePaymentSheet',
      () => this.queueUntilWritten(row),
      (r) => `${r.status} row ${r.row}`,
    );
  }

  /** Queues the row, waits for the answer; with none in time (a lost reply, Sheets down), queues it again. */
  private async queueUntilWritten(row: LedgerRow): Promise<OrderedWrite> {
    const write = ++this.writes;
    const giveUpAt = Date.now() + LEDGER_GIVE_UP_MS;
    const mine: string[] = [];
    const answer = () => mine.map((id) => this.replies.get(id)).find((r) => r !== undefined);
    for (let attempt = 1; ; attempt++) {
      this.inFlight = `/${write}/${attempt}`;
      const queued = await this.queue({ row, write, attempt });
      const { requestId } = queued;
      this.asked.add(requestId);
      this.inFlight = undefined;
      mine.push(requestId);
      if (attempt > 1) this.run.waiting('updatePaymentSheet', `row queued again (attempt ${attempt}): no answer from the ledger writer yet`);
      const wait = answerWaitMs(attempt, queued.writerBacklogMs ?? 0, this.requeueAfterMs, giveUpAt - Date.now());
      await condition(() => answer() !== undefined, Math.max(1, wait));
      const reply = answer();
      if (reply && 'result' in reply) return reply.result;
      if (reply) throw ApplicationFailure.create({ type: reply.error.type, message: reply.error.message, nonRetryable: true });
      if (Date.now() >= giveUpAt || attempt >= LEDGER_MAX_QUEUED) {
        throw ApplicationFailure.create({
          type: ErrorType.ExternalApiUnavailable,
          message: `the ledger row of invoice ${row.invoiceNumber} was not written after ${attempt} tries over ${Math.round((Date.now() - giveUpAt + LEDGER_GIVE_UP_MS) / 3_600_000)} h (Google Sheets unavailable?)`,
          nonRetryable: true,
        });
      }
    }
  }
}

// ---- The writer's side: one request per run, batches, rows kept when a write fails ----

/** Used until the first request brings the worker's own settings (a writer started by hand). */
export const FALLBACK_LEDGER_SETTINGS: LedgerSettings = { batchWindowMs: 2_000, maxBatch: 200, rolloverAfterEvents: 4_000, maxCarried: 500, writeTimeoutMs: 130_000 };
/** Waits between failed batch writes (Sheets down): the write itself already retried for a few minutes. */
const WRITE_BACKOFF_MS = [30_000, 60_000, 120_000, 300_000];

/** How long the writer waits after its `failedWrites`-th failed batch write in a row. */
export function writeBackoffMs(failedWrites: number): number {
  return WRITE_BACKOFF_MS[Math.min(failedWrites, WRITE_BACKOFF_MS.length) - 1] as number;
}

/** The writer's queue, in arrival order: one request per payment run (by workflow id), the newest. */
export class PendingRequests {
  private readonly byRun = new Map<string, LedgerRequest>();
  /** When each run's row was first queued (workflow time, ms): the backlog's age, kept across newer requests. */
  private readonly since = new Map<string, number>();
  /** The batch being written: still not in the sheet. */
  private writing: LedgerRequest[] = [];

  constructor(carried: LedgerRequest[] = [], carriedSince: number[] = []) {
    carried.forEach((request, i) => {
      this.accept(request);
      const at = carriedSince[i];
      if (at !== undefined) this.since.set(request.replyTo.workflowId, at);
    });
  }

  get size(): number {
    return this.byRun.size;
  }

  /** A signal from an attempt that timed out can arrive after its successor's: the newer request stays, in place. */
  accept(request: LedgerRequest): void {
    const id = request.replyTo.workflowId;
    const current = this.byRun.get(id);
    if (!this.since.has(id)) this.since.set(id, Date.now());
    if (current && isNewerRequest(current, request)) return;
    this.byRun.set(id, request);
  }

  /** The next batch, taken out of the queue (until it is written or put back). */
  take(max: number): LedgerRequest[] {
    const batch = this.first(max);
    for (const request of batch) this.byRun.delete(request.replyTo.workflowId);
    this.writing = batch;
    return batch;
  }

  /** The batch is in the sheet (or failed for good): its rows no longer wait, unless queued again meanwhile. */
  written(batch: LedgerRequest[]): void {
    for (const request of batch) if (!this.byRun.has(request.replyTo.workflowId)) this.since.delete(request.replyTo.workflowId);
    this.writing = [];
  }

  /** Rows not written go back in front of the queue; a newer request of the same run, arrived meanwhile, wins. */
  putBack(batch: LedgerRequest[]): void {
    const kept = new Map(batch.filter((r) => !this.byRun.has(r.replyTo.workflowId)).map((r) => [r.replyTo.workflowId, r] as const));
    for (const [id, r] of this.byRun) kept.set(id, r);
    this.byRun.clear();
    for (const [id, r] of kept) this.byRun.set(id, r);
    this.writing = [];
  }

  /** What a rollover carries: bounded, the runs of the rest queue again (step 4). */
  first(max: number): LedgerRequest[] {
    return [...this.byRun.values()].slice(0, max);
  }

  /** When each of these requests' rows was first queued, for the next run of the writer. */
  sinceOf(requests: LedgerRequest[]): number[] {
    return requests.map((r) => this.since.get(r.replyTo.workflowId) ?? Date.now());
  }

  /** Rows queued or being written, and since when the oldest of them waits (ms since the epoch; null: none). */
  backlog(): { rows: number; oldestQueuedAt: number | null } {
    const waiting = [...this.byRun.keys(), ...this.writing.map((r) => r.replyTo.workflowId).filter((id) => !this.byRun.has(id))];
    const times = waiting.map((id) => this.since.get(id)).filter((t): t is number => t !== undefined);
    return { rows: waiting.length, oldestQueuedAt: times.length > 0 ? Math.min(...times) : null };
  }
}

// ---- The first protocol (task tokens), kept only so that runs started before it was replaced finish ----

/** @deprecated A row and the task token of the activity the writer completes: used by runs started before v2. */
export interface LegacyLedgerEntry {
  row: LedgerRow;
  taskToken: string;
}

/** @deprecated Input of a writer started before v2 (its id is `legacyLedgerWorkflowId`). */
export interface LegacyLedgerWorkflowInput {
  spreadsheetId: string;
  sheetName: string;
  batchWindowMs: number;
  maxBatch: number;
  rolloverAfterEvents: number;
  pending?: LegacyLedgerEntry[];
}

export type LegacyLedgerCompletion = { taskToken: string; result: LedgerWriteResult } | { taskToken: string; error: { type: string; message: string } };

/**
 * @deprecated The first protocol's signal, with a name of its own: it once shared `enqueueLedgerRow` with the
 * current protocol (another writer, another payload). Old writers' histories carry that name, which their
 * writer still takes (`legacyEnqueueLedgerRowByOldNameSignal`).
 */
export const legacyEnqueueLedgerRowSignal = defineSignal<[LegacyLedgerEntry]>('enqueueLedgerRowByTaskToken');
/** @deprecated The name the first protocol's entries were sent under before, kept for the histories that carry it. */
export const legacyEnqueueLedgerRowByOldNameSignal = defineSignal<[LegacyLedgerEntry]>('enqueueLedgerRow');

/** @deprecated The writer of runs started before v2: one per spreadsheet. */
export function legacyLedgerWorkflowId(spreadsheetId: string): string {
  return `payment-ledger-${spreadsheetId}`;
}

export function isLegacyLedgerInput(input: unknown): input is LegacyLedgerWorkflowInput {
  return typeof input === 'object' && input !== null && 'batchWindowMs' in input;
}
