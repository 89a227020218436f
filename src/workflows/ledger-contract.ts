// Names and payloads shared by the ledger writer and its callers (safe to import from workflow and other code).
// Every payload that reaches the writer or comes back from it is checked here with zod: a signal is a door.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import type { LedgerRow, LedgerWriteResult } from '../domain/shapes';

/** The writer's batch settings: they come from the current worker configuration with every request. */
export const LedgerSettingsSchema = z.object({
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
export type LedgerSettings = z.output<typeof LedgerSettingsSchema>;

export const LedgerRowSchema = z.object({
  invoiceNumber: z.string().regex(/^\d{1,20}$/),
  status: z.enum(['Payée', 'Partiellement payée']),
  paymentMode: z.string().min(1).max(64),
  paymentDate: z.string().min(1).max(40),
  amount: z.number().finite().optional(),
  armadoBillId: z.string().min(1).max(64).optional(),
  workflowId: z.string().min(1).max(1000),
});

/** A payment run's row, and where to tell the run that it is written. No capability travels with it. */
export const LedgerRequestSchema = z.object({
  requestId: z.string().min(1).max(200),
  row: LedgerRowSchema,
  replyTo: z.object({ workflowId: z.string().min(1).max(1000), runId: z.string().min(1).max(100) }),
  settings: LedgerSettingsSchema,
});
export type LedgerRequest = z.output<typeof LedgerRequestSchema>;

/**
 * The writer's answer to one request: written (or kept, see the result's status), or failed for good. Payment runs
 * check what arrives with `parseLedgerReply` (ledger-reply.ts: no zod in a run), held to this schema by a test.
 */
export const LedgerReplySchema = z.union([
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
export { ledgerRowWrittenSignal, type LedgerReply } from './ledger-reply';

export interface LedgerWriterInput {
  spreadsheetId: string;
  sheetName: string;
  /** The settings of the last request seen (each request brings its worker's current ones). */
  settings?: LedgerSettings;
  /** Requests queued but not yet written when the previous run continued as new (bounded by maxCarried). */
  pending?: LedgerRequest[];
}

export interface LedgerWriterStatus {
  pending: number;
  rowsWritten: number;
  batchesWritten: number;
  rejectedSignals: number;
  /** Consecutive failed batch writes (Sheets unreachable): the writer waits longer between tries. */
  failedWrites: number;
}

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

export const enqueueLedgerRowSignal = defineSignal<[LedgerRequest]>('enqueueLedgerRow');
export const ledgerStatusQuery = defineQuery<LedgerWriterStatus>('ledgerStatus');

// ---- The first protocol (task tokens), kept only so that runs started before it was replaced finish. ----

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

/** @deprecated The first protocol's signal (same name, token-carrying payload). */
export const legacyEnqueueLedgerRowSignal = defineSignal<[LegacyLedgerEntry]>('enqueueLedgerRow');

/** @deprecated The writer of runs started before v2: one per spreadsheet. */
export function legacyLedgerWorkflowId(spreadsheetId: string): string {
  return `payment-ledger-${spreadsheetId}`;
}

export function isLegacyLedgerInput(input: unknown): input is LegacyLedgerWorkflowInput {
  return typeof input === 'object' && input !== null && 'batchWindowMs' in input;
}
