// @deprecated The first ledger writer (task-token protocol), kept unchanged so that writers and payment runs
// started before v2 replay and finish. Remove once no such run is open (see docs: changing workflow code).
import { ActivityFailure, ApplicationFailure, condition, continueAsNew, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { NON_RETRYABLE_TYPES } from '../../domain/errors';
import type { LedgerWriteResult } from '../../domain/shapes';
import {
  legacyEnqueueLedgerRowByOldNameSignal,
  legacyEnqueueLedgerRowSignal as enqueueLedgerRowSignal,
  ledgerStatusQuery,
  type LegacyLedgerCompletion as LedgerCompletion,
  type LegacyLedgerEntry as LedgerEntry,
  type LegacyLedgerWorkflowInput as LedgerWorkflowInput,
} from '../ledger-protocol';

const { writeLedgerRows } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Sheets' 429 has no Retry-After: back off exponentially, and keep trying while runs wait on us.
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES] },
});
const { completeLedgerRows } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export async function legacyPaymentLedgerWorkflow(input: LedgerWorkflowInput): Promise<void> {
  const pending: LedgerEntry[] = [...(input.pending ?? [])];
  let rowsWritten = 0;
  let batchesWritten = 0;

  setHandler(ledgerStatusQuery, () => ({ pending: pending.length, rowsWritten, batchesWritten, rejectedSignals: 0, failedWrites: 0 }));
  const enqueue = (entry: LedgerEntry) => {
    // A run has one ledger write in flight at a time: an entry of the same run is a retried attempt
    // (or a reset run) whose older task token can no longer be completed, so it takes that place.
    const index = pending.findIndex((e) => e.row.workflowId === entry.row.workflowId);
    if (index >= 0) pending[index] = entry;
    else pending.push(entry);
  };
  setHandler(enqueueLedgerRowSignal, enqueue);
  // The name these entries had when they shared it with the current protocol: in the histories of old writers.
  setHandler(legacyEnqueueLedgerRowByOldNameSignal, enqueue);

  for (;;) {
    await condition(() => pending.length > 0);
    if (input.batchWindowMs > 0 && pending.length < input.maxBatch) await sleep(input.batchWindowMs);
    const batch = pending.splice(0, input.maxBatch);
    let completions: LedgerCompletion[];
    try {
      const results = await writeLedgerRows({ spreadsheetId: input.spreadsheetId, sheetName: input.sheetName, rows: batch.map((e) => e.row) });
      completions = batch.map((e) => ({ taskToken: e.taskToken, result: results[e.row.invoiceNumber] as LedgerWriteResult }));
      rowsWritten += batch.length;
      batchesWritten += 1;
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      const error = { type: cause?.type ?? 'LedgerWriteFailed', message: cause?.message ?? (err instanceof Error ? err.message : String(err)) };
      completions = batch.map((e) => ({ taskToken: e.taskToken, error }));
    }
    await completeLedgerRows({ completions });

    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > input.rolloverAfterEvents) {
      await continueAsNew<typeof legacyPaymentLedgerWorkflow>({ ...input, pending });
    }
  }
}
