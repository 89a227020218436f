// Re-running payment syncs after an operator fixed a cause (Armado key rotated, sheet shared again...).
// Every activity is idempotent, so a run reset to its first workflow task redoes only what is still missing.
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import type { PaymentSyncMemo } from '../domain/run-summary';

const { EventType } = temporal.api.enums.v1;

export interface ResetTarget {
  workflowId: string;
  runId: string;
}

/** Resets one run to its first completed workflow task (or to `eventId`); returns the new run's id. */
export async function resetRun(client: Client, target: ResetTarget & { reason: string; eventId?: number; requestId?: string }): Promise<string> {
  const eventId = target.eventId ?? (await firstWorkflowTaskCompleted(client, target));
  const response = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId: target.workflowId, runId: target.runId },
    reason: target.reason,
    workflowTaskFinishEventId: Long.fromNumber(eventId),
    // The same request id makes a retried call (lost response) a no-op rather than a second reset.
    requestId: target.requestId ?? randomUUID(),
  });
  return response.runId ?? '';
}

async function firstWorkflowTaskCompleted(client: Client, target: ResetTarget): Promise<number> {
  const history = await client.workflow.getHandle(target.workflowId, target.runId).fetchHistory();
  const event = history.events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  if (!event?.eventId) throw new Error(`${target.workflowId} (${target.runId}) has no completed workflow task to reset to`);
  return Number(event.eventId);
}

/** The failure type of a closed run: from its memo, else (runs older than the memo) from its last event. */
async function closedRunFailureType(client: Client, execution: WorkflowExecutionInfo): Promise<string | undefined> {
  const memo = execution.memo as Partial<PaymentSyncMemo> | undefined;
  if (typeof memo?.failureType === 'string') return memo.failureType;
  if (execution.status.name !== 'FAILED') return undefined;
  const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
  const last = history.events?.at(-1);
  return last?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.type ?? undefined;
}

export interface BatchResetOptions {
  /** A visibility query; it is always narrowed to paymentSyncWorkflow runs. Default: every failed run. */
  query?: string;
  /** Only runs whose failure has this type (e.g. ArmadoAuthFailed). */
  failureType?: string;
  reason: string;
  dryRun: boolean;
  /** Stop after this many resets (default: no limit). */
  limit?: number;
}

export interface BatchResetEntry {
  workflowId: string;
  runId: string;
  invoiceNumber?: string;
  status: string;
  failureType?: string;
  summary?: string;
  action: 'reset' | 'would-reset' | 'skipped' | 'error';
  why?: string;
  newRunId?: string;
}

export const DEFAULT_RESET_QUERY = 'SyncOutcome="failed"';

export function batchResetQuery(query = DEFAULT_RESET_QUERY): string {
  return `WorkflowType="paymentSyncWorkflow" AND (${query})`;
}

/**
 * Lists the runs the query selects and resets each one that is still the latest run of its workflow id:
 * a run already reset (or re-run) is skipped, so running the same batch twice processes nothing twice.
 */
export async function batchReset(client: Client, options: BatchResetOptions): Promise<BatchResetEntry[]> {
  const entries: BatchResetEntry[] = [];
  let resets = 0;
  for await (const execution of client.workflow.list({ query: batchResetQuery(options.query) })) {
    const invoice = execution.searchAttributes?.InvoiceNumber as string[] | undefined;
    const memo = execution.memo as Partial<PaymentSyncMemo> | undefined;
    const entry: BatchResetEntry = {
      workflowId: execution.workflowId,
      runId: execution.runId,
      invoiceNumber: invoice?.[0],
      status: execution.status.name,
      summary: typeof memo?.summary === 'string' ? memo.summary : undefined,
      action: 'skipped',
    };
    entries.push(entry);
    if (execution.status.name === 'RUNNING') {
      entry.why = 'still running';
      continue;
    }
    entry.failureType = await closedRunFailureType(client, execution);
    if (options.failureType && entry.failureType !== options.failureType) {
      entry.why = `failure type is ${entry.failureType ?? 'none'}, not ${options.failureType}`;
      continue;
    }
    const latest = await client.workflow.getHandle(execution.workflowId).describe();
    if (latest.runId !== execution.runId) {
      entry.why = `already re-run as ${latest.runId} (${latest.status.name})`;
      continue;
    }
    if (options.limit !== undefined && resets >= options.limit) {
      entry.why = `limit of ${options.limit} reached`;
      continue;
    }
    resets += 1;
    if (options.dryRun) {
      entry.action = 'would-reset';
      continue;
    }
    try {
      entry.newRunId = await resetRun(client, { workflowId: execution.workflowId, runId: execution.runId, reason: options.reason });
      entry.action = 'reset';
    } catch (err) {
      entry.action = 'error';
      entry.why = err instanceof Error ? err.message : String(err);
    }
  }
  return entries;
}
