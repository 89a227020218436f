// Names shared by the ledger writer and its callers (safe to import from workflow and non-workflow code).
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { LedgerRow, LedgerWriteResult } from '../domain/payment-sync';

export interface LedgerWorkflowInput {
  spreadsheetId: string;
  sheetName: string;
  /** How long the writer gathers rows after the first one arrives before writing them in one request. */
  batchWindowMs: number;
  maxBatch: number;
}

export interface LedgerWriterStatus {
  pending: number;
  rowsWritten: number;
  batchesWritten: number;
  draining: boolean;
}

/** One writer per spreadsheet, whatever the number of workers: its workflow id is the spreadsheet's. */
export function ledgerWorkflowId(spreadsheetId: string): string {
  return `payment-ledger-${spreadsheetId}`;
}

export const writeLedgerRowUpdate = defineUpdate<LedgerWriteResult, [LedgerRow]>('writeLedgerRow');
export const ledgerStatusQuery = defineQuery<LedgerWriterStatus>('ledgerStatus');
