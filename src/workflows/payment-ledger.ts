// The spreadsheet's single writer: gathers rows from payment runs and writes them in one batch request.
import {
  ApplicationFailure,
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES } from '../domain/errors';
import type { LedgerRow, LedgerWriteResult } from '../domain/payment-sync';
import { ledgerStatusQuery, writeLedgerRowUpdate, type LedgerWorkflowInput } from './ledger-contract';

const { writeLedgerRows } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Sheets' 429 has no Retry-After: back off exponentially, and keep trying while runs wait on us.
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES] },
});

/** Roll over well before Temporal's limits; each row costs about two events (update accepted, completed). */
const HISTORY_EVENTS_BEFORE_ROLLOVER = 4_000;

type Outcome = { result: LedgerWriteResult } | { error: ApplicationFailure };

export async function paymentLedgerWorkflow(input: LedgerWorkflowInput): Promise<void> {
  const pending: { key: number; row: LedgerRow }[] = [];
  const outcomes = new Map<number, Outcome>();
  let nextKey = 0;
  let draining = false;
  let rowsWritten = 0;
  let batchesWritten = 0;

  setHandler(ledgerStatusQuery, () => ({ pending: pending.length, rowsWritten, batchesWritten, draining }));
  setHandler(
    writeLedgerRowUpdate,
    async (row) => {
      const key = nextKey++;
      pending.push({ key, row });
      await condition(() => outcomes.has(key));
      const outcome = outcomes.get(key) as Outcome;
      outcomes.delete(key);
      if ('error' in outcome) throw outcome.error;
      return outcome.result;
    },
    {
      validator: (row) => {
        // Rejected updates leave no history; the caller's activity retries and reaches the next run.
        if (draining) throw new Error('the ledger writer is rolling over to a new run; retry');
        if (!row || typeof row.invoiceNumber !== 'string' || typeof row.workflowId !== 'string') {
          throw new Error('a ledger row needs invoiceNumber and workflowId');
        }
      },
    },
  );

  async function flush(): Promise<void> {
    const batch = pending.splice(0, input.maxBatch);
    try {
      const results = await writeLedgerRows({ spreadsheetId: input.spreadsheetId, sheetName: input.sheetName, rows: batch.map((b) => b.row) });
      for (const { key, row } of batch) outcomes.set(key, { result: results[row.invoiceNumber] as LedgerWriteResult });
      rowsWritten += batch.length;
      batchesWritten += 1;
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      const failure = ApplicationFailure.create({
        type: cause?.type ?? 'LedgerWriteFailed',
        message: cause?.message ?? (err instanceof Error ? err.message : String(err)),
        nonRetryable: true,
      });
      for (const { key } of batch) outcomes.set(key, { error: failure });
    }
  }

  for (;;) {
    await condition(() => pending.length > 0);
    if (input.batchWindowMs > 0 && pending.length < input.maxBatch) await sleep(input.batchWindowMs);
    await flush();
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > HISTORY_EVENTS_BEFORE_ROLLOVER) {
      draining = true;
      while (pending.length > 0) await flush();
      await condition(allHandlersFinished);
      await continueAsNew<typeof paymentLedgerWorkflow>(input);
    }
  }
}
