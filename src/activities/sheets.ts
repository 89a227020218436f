// Ledger steps: a payment run hands its row to the spreadsheet's single writer; the writer upserts in batches.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ErrorType, permanentFailure, transientFailure } from '../domain/errors';
import { LEDGER_HEADER, type LedgerRow, type LedgerWriteResult } from '../domain/payment-sync';
import { a1, type SheetsClient, type ValueRange } from '../clients/sheets';
import { ledgerWorkflowId, type LedgerWorkflowInput } from '../workflows/ledger-contract';

export interface SheetsActivityDeps {
  sheets: SheetsClient;
  spreadsheetId: string;
  sheetName: string;
  batchWindowMs: number;
  maxBatch: number;
  /** Current time for the "Mis à jour" column; injectable for tests. */
  now?: () => Date;
}

const HEARTBEAT_EVERY_MS = 5_000;
const COLUMNS = `A:${String.fromCharCode(64 + LEDGER_HEADER.length)}`;

export function createSheetsActivities(deps: SheetsActivityDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    /**
     * Completes only once the row is in the sheet. The update id is this activity's own (run + activity id),
     * so a retried attempt joins the write already under way instead of queueing a second one.
     */
    async updatePaymentSheet(row: LedgerRow): Promise<LedgerWriteResult> {
      const ctx = Context.current();
      const { workflowExecution, activityId, taskQueue } = ctx.info;
      const ledger: LedgerWorkflowInput = {
        spreadsheetId: deps.spreadsheetId,
        sheetName: deps.sheetName,
        batchWindowMs: deps.batchWindowMs,
        maxBatch: deps.maxBatch,
      };
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        const handle = await ctx.client.workflow.startUpdateWithStart('writeLedgerRow', {
          args: [row],
          updateId: `${workflowExecution?.runId ?? ctx.info.workflowExecution?.workflowId}/${activityId}`,
          waitForStage: 'ACCEPTED',
          startWorkflowOperation: new WithStartWorkflowOperation('paymentLedgerWorkflow', {
            workflowId: ledgerWorkflowId(deps.spreadsheetId),
            taskQueue,
            args: [ledger],
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        });
        return (await handle.result()) as LedgerWriteResult;
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
          // The writer already classified it (and retried it if that made sense).
          throw permanentFailure((err.cause.type ?? ErrorType.UnexpectedApiResponse) as ErrorType, err.cause.message);
        }
        // Rejected while the writer rolls over, or the server was unreachable: try again shortly.
        throw transientFailure(
          ErrorType.ExternalApiUnavailable,
          `the ledger writer did not take the row of invoice ${row.invoiceNumber}: ${err instanceof Error ? err.message : String(err)}`,
        );
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * Upserts rows keyed by column A in one read and one batchUpdate. It is the only writer of the sheet,
     * so it may place new rows itself; re-reading first makes a retry after an ambiguous 429 safe.
     */
    async writeLedgerRows(args: { spreadsheetId: string; sheetName: string; rows: LedgerRow[] }): Promise<Record<string, LedgerWriteResult>> {
      const { spreadsheetId, sheetName } = args;
      const existing = await deps.sheets.readValues(spreadsheetId, a1(sheetName, COLUMNS));
      const data: ValueRange[] = [];
      let rowCount = existing.length;
      if (rowCount === 0) {
        data.push({ range: a1(sheetName, `A1:${COLUMNS.slice(2)}1`), values: [[...LEDGER_HEADER]] });
        rowCount = 1;
      }
      const rowOf = new Map<string, number>();
      existing.forEach((cells, index) => {
        const key = (cells[0] ?? '').trim();
        if (index > 0 && key && !rowOf.has(key)) rowOf.set(key, index + 1);
      });

      // Later rows for the same invoice win: they carry the newer state.
      const latest = new Map<string, LedgerRow>();
      for (const row of args.rows) latest.set(row.invoiceNumber, row);

      const results: Record<string, LedgerWriteResult> = {};
      const updatedAt = now().toISOString();
      for (const row of latest.values()) {
        let rowNumber = rowOf.get(row.invoiceNumber);
        const status = rowNumber === undefined ? 'appended' : 'updated';
        if (rowNumber === undefined) rowNumber = ++rowCount;
        const previousBill = rowNumber <= existing.length ? (existing[rowNumber - 1]?.[5] ?? '') : '';
        data.push({
          range: a1(sheetName, `A${rowNumber}:${COLUMNS.slice(2)}${rowNumber}`),
          values: [
            [
              row.invoiceNumber,
              row.status,
              row.paymentMode,
              row.paymentDate,
              row.amount ?? '',
              // A write that does not know the bill yet must not erase one recorded earlier.
              row.armadoBillId ?? previousBill,
              updatedAt,
              row.workflowId,
            ],
          ],
        });
        results[row.invoiceNumber] = { status, row: rowNumber };
      }
      await deps.sheets.batchUpdate(spreadsheetId, data);
      return results;
    },
  };
}
