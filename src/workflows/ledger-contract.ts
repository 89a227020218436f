// Names shared by the ledger writer and its callers (safe to import from workflow and non-workflow code).
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { LedgerRow, LedgerWriteResult } from '../domain/payment-sync';

/** A row waiting to be written, and the (base64) task token of the activity to complete once it is. */
export interface LedgerEntry {
  row: LedgerRow;
  taskToken: string;
}

export interface LedgerWorkflowInput {
  spreadsheetId: string;
  sheetName: string;
  /** How long the writer gathers rows after the first one arrives before writing them in one request. */
  batchWindowMs: number;
  maxBatch: number;
  /** History length after which the writer continues as new (each row costs about one event). */
  rolloverAfterEvents: number;
  /** Rows queued but not yet written when the previous run continued as new. */
  pending?: LedgerEntry[];
}

export type LedgerCompletion =
  | { taskToken: string; result: LedgerWriteResult }
  | { taskToken: string; error: { type: string; message: string } };

export interface LedgerWriterStatus {
  pending: number;
  rowsWritten: number;
  batchesWritten: number;
}

/** One writer per spreadsheet, whatever the number of workers: its workflow id is the spreadsheet's. */
export function ledgerWorkflowId(spreadsheetId: string): string {
  return `payment-ledger-${spreadsheetId}`;
}

export const enqueueLedgerRowSignal = defineSignal<[LedgerEntry]>('enqueueLedgerRow');
export const ledgerStatusQuery = defineQuery<LedgerWriterStatus>('ledgerStatus');
