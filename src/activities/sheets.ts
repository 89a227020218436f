// Ledger steps: a payment run hands its row to the spreadsheet's single writer; the writer upserts in batches.
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ActivityNotFoundError, ApplicationFailure } from '@temporalio/client';
import { ErrorType, transientFailure } from '../domain/errors';
import { LEDGER_HEADER, type LedgerRow, type LedgerWriteResult } from '../domain/payment-sync';
import { a1, type SheetsClient, type ValueRange } from '../clients/sheets';
import { enqueueLedgerRowSignal, ledgerWorkflowId, type LedgerCompletion, type LedgerWorkflowInput } from '../workflows/ledger-contract';

export interface SheetsActivityDeps {
  sheets: SheetsClient;
  spreadsheetId: string;
  sheetName: string;
  batchWindowMs: number;
  maxBatch: number;
  rolloverAfterEvents: number;
  /** Current time for the "Mis à jour" column; injectable for tests. */
  now?: () => Date;
}

const COLUMNS = `A:${String.fromCharCode(64 + LEDGER_HEADER.length)}`;

export function createSheetsActivities(deps: SheetsActivityDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    /**
     * Completes only once the row is in the sheet: it queues the row with the spreadsheet's single writer
     * (started if need be) and leaves its own completion to that writer.
     */
    async updatePaymentSheet(row: LedgerRow): Promise<LedgerWriteResult> {
      const ctx = Context.current();
      const ledger: LedgerWorkflowInput = {
        spreadsheetId: deps.spreadsheetId,
        sheetName: deps.sheetName,
        batchWindowMs: deps.batchWindowMs,
        maxBatch: deps.maxBatch,
        rolloverAfterEvents: deps.rolloverAfterEvents,
      };
      try {
        await ctx.client.workflow.signalWithStart('paymentLedgerWorkflow', {
          workflowId: ledgerWorkflowId(deps.spreadsheetId),
          taskQueue: ctx.info.taskQueue,
          args: [ledger],
          signal: enqueueLedgerRowSignal,
          signalArgs: [{ row, taskToken: Buffer.from(ctx.info.taskToken).toString('base64') }],
        });
      } catch (err) {
        throw transientFailure(
          ErrorType.ExternalApiUnavailable,
          `could not queue the ledger row of invoice ${row.invoiceNumber}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      ctx.log.info('ledger row queued with the spreadsheet writer', { invoiceNumber: row.invoiceNumber, ledgerStatus: row.status });
      throw new CompleteAsyncError();
    },

    /** The writer's last step: completes (or fails) each waiting updatePaymentSheet. */
    async completeLedgerRows(args: { completions: LedgerCompletion[] }): Promise<{ completed: number; stale: number }> {
      const { client } = Context.current();
      let completed = 0;
      let stale = 0;
      for (const completion of args.completions) {
        const taskToken = new Uint8Array(Buffer.from(completion.taskToken, 'base64'));
        try {
          if ('result' in completion) await client.activity.complete(taskToken, completion.result);
          else await client.activity.fail(taskToken, ApplicationFailure.create({ ...completion.error, nonRetryable: true }));
          completed += 1;
        } catch (err) {
          // That attempt timed out (its retry is queued behind) or its run was reset: nothing waits on it.
          if (!(err instanceof ActivityNotFoundError)) throw err;
          stale += 1;
        }
      }
      return { completed, stale };
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
      Context.current().log.info('ledger rows written', { rows: args.rows.length, invoices: args.rows.map((r) => r.invoiceNumber).slice(0, 50) });
      return results;
    },
  };
}
