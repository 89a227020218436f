// The payment run's ledger step: it hands its row to the spreadsheet tab's single writer, which answers
// the run by signal once the row is written. The run, not this activity, waits for that answer.
import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ErrorType, permanentFailure, transientFailure } from '../domain/errors';
import type { LedgerRow } from '../domain/shapes';
import {
  enqueueLedgerRowSignal,
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
}

function isQueueArgs(args: LedgerRow | QueueLedgerRowArgs): args is QueueLedgerRowArgs {
  return typeof args === 'object' && args !== null && 'write' in args;
}

export function createLedgerStepActivities(deps: LedgerStepActivityDeps) {
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
      try {
        await ctx.client.workflow.signalWithStart('paymentLedgerWorkflow', {
          workflowId: writer,
          taskQueue: ctx.info.taskQueue,
          args: [start],
          signal: enqueueLedgerRowSignal,
          signalArgs: [request.data],
        });
      } catch (err) {
        throw transientFailure(
          ErrorType.ExternalApiUnavailable,
          `could not queue the ledger row of invoice ${args.row.invoiceNumber}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      ctx.log.info('ledger row queued with the tab writer', { invoiceNumber: args.row.invoiceNumber, ledgerStatus: args.row.status, writer });
      return { queued: true, requestId, writer };
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
