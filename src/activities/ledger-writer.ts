// The ledger writer's activities: write a batch (only for runs still waiting on it), then tell each run.
import { Context } from '@temporalio/activity';
import { ActivityNotFoundError, ApplicationFailure, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { LedgerRow, LedgerWriteResult } from '../domain/shapes';
import type { SheetsClient } from '../apis/sheets';
import { upsertLedgerRows } from '../ledger/keyed-upsert';
import { InvoiceNumberKey } from '../workflows/contract';
import { ledgerRowWrittenSignal, type LedgerReply, type LedgerRequest, type LegacyLedgerCompletion, type QueuedLedgerRequest } from '../workflows/ledger-protocol';

export interface LedgerWriterDeps {
  sheets: SheetsClient;
  /** ARMADO_TIMEZONE: the ledger's dates are read there to put payments in their one order. */
  timeZone: string;
  /** Current time for the "Mis à jour" column; injectable for tests. */
  now?: () => Date;
}

/** Why a queued row was not written: the run that queued it no longer waits for it. */
export interface DroppedRequest {
  requestId: string;
  reason: string;
}

export interface LedgerBatchOutcome {
  written: LedgerReply[];
  dropped: DroppedRequest[];
  writeRequests: number;
}

export type AddressedReply = LedgerReply & { replyTo: LedgerRequest['replyTo'] };

/** Runs `work` on every item with at most `limit` in flight. */
export async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}

/**
 * Whether the run that queued a row still waits for it. A terminated, cancelled, reset or finished run
 * writes nothing afterwards; a request naming a run that is not a payment run of that invoice (a signal
 * sent by hand) is not written either.
 */
async function stillWaiting(client: Client, request: QueuedLedgerRequest): Promise<string | undefined> {
  try {
    // The workflow's current run: a run reset after queuing its row still waits for it (as the new run).
    const run = await client.workflow.getHandle(request.replyTo.workflowId).describe();
    if (run.type !== 'paymentSyncWorkflow') return `run ${request.replyTo.workflowId} is a ${run.type}, not a payment run`;
    if (run.status.name !== 'RUNNING') return `run ${request.replyTo.workflowId} is ${run.status.name.toLowerCase()}`;
    const invoice = run.typedSearchAttributes.get(InvoiceNumberKey);
    if (invoice !== request.row.invoiceNumber) return `run ${request.replyTo.workflowId} is not a payment of invoice ${request.row.invoiceNumber}`;
    if (request.row.workflowId !== request.replyTo.workflowId) return `row names workflow ${request.row.workflowId}, not its sender`;
    return undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return `run ${request.replyTo.workflowId} does not exist`;
    // The server refuses this request's workflow id itself (gRPC INVALID_ARGUMENT): no retry will help it,
    // and it must not hold back the batch. Anything else (the server unreachable) is retried with the batch.
    const code = (err as { code?: number; cause?: { code?: number } }).cause?.code ?? (err as { code?: number }).code;
    if (code === 3) return `run ${request.replyTo.workflowId.slice(0, 100)} cannot be looked up: ${(err as Error).message.slice(0, 200)}`;
    throw err;
  }
}

export function createLedgerWriterActivities(deps: LedgerWriterDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    /** Writes the rows of the runs still waiting for them, keyed so that edits to the sheet cannot misplace them. */
    async writeLedgerBatch(args: { spreadsheetId: string; sheetName: string; requests: QueuedLedgerRequest[] }): Promise<LedgerBatchOutcome> {
      const ctx = Context.current();
      const dropped: DroppedRequest[] = [];
      const reasons = new Map<QueuedLedgerRequest, string | undefined>();
      await eachLimited(args.requests, 16, async (request) => void reasons.set(request, await stillWaiting(ctx.client, request)));
      // In queue order: of two tied payments of one invoice, the one queued first is the one kept.
      const live = args.requests.filter((r) => reasons.get(r) === undefined);
      for (const r of args.requests) {
        const reason = reasons.get(r);
        if (reason) dropped.push({ requestId: r.requestId, reason });
      }
      ctx.heartbeat('runs checked');
      if (dropped.length > 0)
        ctx.log.warn('ledger rows dropped: their runs no longer wait for them', { dropped: dropped.length, reasons: dropped.slice(0, 5).map((d) => d.reason) });
      if (live.length === 0) return { written: [], dropped, writeRequests: 0 };

      const { results, writeRequests, chosen, displaced } = await upsertLedgerRows(deps.sheets, {
        spreadsheetId: args.spreadsheetId,
        sheetName: args.sheetName,
        rows: live.map((r) => r.row),
        now: now(),
        timeZone: deps.timeZone,
        progress: (phase) => ctx.heartbeat(phase),
      });
      const written = live.map((r): LedgerReply => {
        const own = results[r.row.invoiceNumber] as LedgerWriteResult;
        // Two payments of one invoice in one batch: the row shows the later one; the other was kept out.
        if (chosen[r.row.invoiceNumber] !== r.row.workflowId) return { requestId: r.requestId, result: { status: 'kept-later-payment' as const, row: own.row } };
        // The row now shows this payment: it is the one Armado must end on. A settled payment it replaced may still be
        // on its way to the bill; the run writes Armado after that run is done (writes to one bill in the order of the row).
        const after = own.status !== 'kept-later-payment' ? displaced[r.row.invoiceNumber] : undefined;
        return { requestId: r.requestId, result: after ? { ...own, armadoAfter: [after] } : own };
      });
      ctx.log.info('ledger rows written', { rows: live.length, writeRequests, invoices: live.map((r) => r.row.invoiceNumber).slice(0, 50) });
      return { written, dropped, writeRequests };
    },

    /** Tells each run that its row is written. One unreachable run never holds back the others. */
    async replyLedgerRequests(args: { replies: AddressedReply[] }): Promise<{ delivered: number; gone: number; failed: number }> {
      const ctx = Context.current();
      let delivered = 0;
      let gone = 0;
      const failures: string[] = [];
      await eachLimited(args.replies, 16, async ({ replyTo, ...reply }) => {
        try {
          // To the workflow's current run: after a reset it is the new run, which knows the request from its history.
          await ctx.client.workflow.getHandle(replyTo.workflowId).signal(ledgerRowWrittenSignal, reply as LedgerReply);
          delivered += 1;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError)
            gone += 1; // finished or terminated meanwhile
          else failures.push(err instanceof Error ? err.message : String(err));
        }
      });
      // Any answer not delivered (a signal call timed out under load): the retry sends them all again, which is
      // harmless, as a run keeps the first answer to each of its requests and finished runs are simply gone.
      if (failures.length > 0) {
        ctx.log.warn('some ledger replies were not delivered; sending again', { failed: failures.length, delivered });
        throw ApplicationFailure.retryable(`${failures.length} ledger repl(ies) not delivered: ${failures[0]}`, 'ExternalApiUnavailable');
      }
      return { delivered, gone, failed: 0 };
    },

    /** @deprecated The first protocol's batch write, for a writer started before v2. */
    async writeLedgerRows(args: { spreadsheetId: string; sheetName: string; rows: LedgerRow[] }): Promise<Record<string, LedgerWriteResult>> {
      const ctx = Context.current();
      const { results } = await upsertLedgerRows(deps.sheets, { ...args, now: now(), timeZone: deps.timeZone, progress: (phase) => ctx.heartbeat(phase) });
      return results;
    },

    /** @deprecated The first protocol's completions, for a writer started before v2. */
    async completeLedgerRows(args: { completions: LegacyLedgerCompletion[] }): Promise<{ completed: number; stale: number }> {
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
          if (!(err instanceof ActivityNotFoundError)) throw err;
          stale += 1;
        }
      }
      return { completed, stale };
    },
  };
}
