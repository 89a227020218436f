// Reconciliation from the outside: run it now, read its summary, and its nightly Schedule, made to match RECONCILE_CRON each time a worker starts: created when
// missing, updated when it differs, deleted when the variable is set empty. Several workers starting at once
// converge on the same Schedule (its id is fixed per task queue).
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { driftTotal, type ReconcileSummary } from '../domain/reconciliation';
import type { reconcilePaymentsWorkflow } from '../workflows/reconcile';

export function reconcileScheduleId(taskQueue: string): string {
  return `reconcile-payments-${taskQueue}`;
}

export interface ReconcileScheduleSettings {
  /** Undefined: no schedule. */
  cron?: string;
  timeZone: string;
  taskQueue: string;
}

export type ScheduleChange = 'created' | 'updated' | 'unchanged' | 'deleted' | 'off';

function runMemo(cron: string, timeZone: string): Record<string, string> {
  return { summary: `Reconciliation run by its Schedule (${cron}, ${timeZone})`, cron, timeZone };
}

function desired(settings: ReconcileScheduleSettings & { cron: string }): ScheduleOptions {
  return {
    scheduleId: reconcileScheduleId(settings.taskQueue),
    spec: { cronExpressions: [settings.cron], timezone: settings.timeZone },
    action: {
      type: 'startWorkflow',
      workflowType: 'reconcilePaymentsWorkflow' satisfies (typeof reconcilePaymentsWorkflow)['name'],
      // The Schedule appends the scheduled time: one reconciliation id (and summary row) per night.
      workflowId: reconcileScheduleId(settings.taskQueue),
      taskQueue: settings.taskQueue,
      args: [{}],
      memo: runMemo(settings.cron, settings.timeZone),
    },
    // A night that is still running when the next one is due is not doubled; a missed night (server down)
    // is caught up within a day.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    memo: { summary: 'Nightly reconciliation of the ledger with Tempo and Armado (RECONCILE_CRON)' },
  };
}

export async function ensureReconcileSchedule(client: Client, settings: ReconcileScheduleSettings): Promise<ScheduleChange> {
  const handle = client.schedule.getHandle(reconcileScheduleId(settings.taskQueue));
  if (!settings.cron) {
    try {
      await handle.delete();
      return 'deleted';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'off';
      throw err;
    }
  }
  const options = desired({ ...settings, cron: settings.cron });
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const current = await handle.describe();
  const action = current.action;
  // The server keeps a cron as calendars; the runs' memo keeps the expression it was made from.
  const same =
    action.type === 'startWorkflow' &&
    Object.entries(runMemo(settings.cron, settings.timeZone)).every(([key, value]) => action.memo?.[key] === value) &&
    current.spec.timezone === settings.timeZone &&
    action.workflowType === options.action.workflowType &&
    action.taskQueue === settings.taskQueue;
  if (same) return 'unchanged';
  await handle.update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: { ...previous.policies, ...options.policies } }));
  return 'updated';
}

/** Runs a reconciliation now (the CLI's `reconcile`) and waits for its summary. */
export async function reconcileNow(client: Client, options: { taskQueue: string; dryRun: boolean; invoice?: string }): Promise<ReconcileSummary> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const handle = await client.workflow.start<typeof reconcilePaymentsWorkflow>('reconcilePaymentsWorkflow', {
    workflowId: `reconcile-on-demand-${stamp}-${randomUUID().slice(0, 8)}`,
    taskQueue: options.taskQueue,
    args: [{ dryRun: options.dryRun, ...(options.invoice ? { invoice: options.invoice } : {}) }],
  });
  return handle.result();
}

/** The summary as an operator reads it: counts, then one line per finding. */
export function reconcileReport(summary: ReconcileSummary): string[] {
  const lines = [
    `${summary.dryRun ? 'dry run: ' : ''}reconciliation ${summary.reconciliationId}`,
    `  ledger rows      ${summary.ledgerRows}`,
    `  checked          ${summary.checked}`,
    `  in sync          ${summary.inSync}`,
    `  sync running     ${summary.running}`,
    `  drift            ${driftTotal(summary)}${
      Object.keys(summary.drift).length
        ? ` (${Object.entries(summary.drift)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')})`
        : ''
    }`,
    `  syncs ${summary.dryRun ? 'to start ' : 'started  '}  ${summary.syncsStarted}${summary.alreadyStarted ? ` (+${summary.alreadyStarted} already started)` : ''}`,
  ];
  if (summary.summaryRow) lines.push(`  summary tab row  ${summary.summaryRow}`);
  if (summary.findings.length) {
    lines.push('', `${'invoice'.padEnd(10)} ${'kind'.padEnd(22)} ${'action'.padEnd(15)} detail`);
    for (const f of summary.findings)
      lines.push(
        `${f.invoiceNumber.padEnd(10)} ${f.kind.padEnd(22)} ${f.action.padEnd(15)} ${f.detail}${f.workflowId && !f.detail.includes(f.workflowId) ? ` [${f.workflowId}]` : ''}`,
      );
    if (summary.findingsOmitted) lines.push(`… and ${summary.findingsOmitted} more (counted above)`);
  }
  return lines;
}
