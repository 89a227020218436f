// reconcilePaymentsWorkflow: walks the ledger's unfinished invoices (and its settled rows due a check) page by page, asks Tempo, Armado and the
// service's own runs where each stands, starts the syncs that are certain and reports the rest. Run nightly
// by a Schedule and on demand by `tempo-armado-sync reconcile`.
import { ApplicationFailure, continueAsNew, log, metricMeter, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ErrorType } from '../domain/errors';
import { addFindings, emptySummary, ReconcileInputSchema, type ReconcileInput, type ReconcileSummary } from '../domain/reconciliation';
import { METRIC } from '../metrics';
import { RECONCILE_OPTIONS } from './activity-options';

/** Invoices per inspection activity: each is a few calls, paced at RECONCILE_RATE. */
export const RECONCILE_PAGE = 50;
/** Pages per run before continuing as new: a history of a few hundred events, whatever the ledger's size. */
const PAGES_PER_RUN = 20;

const { listReconcileCandidates, recordReconciliation } = proxyActivities<Activities>(RECONCILE_OPTIONS.listAndRecord);
const { inspectInvoices } = proxyActivities<Activities>(RECONCILE_OPTIONS.inspect);

interface Carried {
  cursor?: string;
  summary: ReconcileSummary;
}

export async function reconcilePaymentsWorkflow(raw: ReconcileInput = {}, carried?: Carried): Promise<ReconcileSummary> {
  const parsed = ReconcileInputSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidPaymentInput,
      message: `invalid reconciliation input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`,
      nonRetryable: true,
    });
  }
  const input = parsed.data;
  let summary = carried?.summary ?? emptySummary(workflowInfo().workflowId, new Date().toISOString(), input);
  let cursor = carried?.cursor;

  for (let page = 0; ; page++) {
    if (page >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof reconcilePaymentsWorkflow>(raw, { cursor, summary });
    }
    const next = await listReconcileCandidates({ after: cursor, limit: RECONCILE_PAGE, invoice: input.invoice, startedAt: summary.startedAt });
    summary = { ...summary, ledgerRows: next.ledgerRows };
    if (next.candidates.length > 0) {
      summary = addFindings(summary, await inspectInvoices({ candidates: next.candidates, dryRun: input.dryRun }));
      cursor = next.candidates.at(-1)?.invoiceNumber;
    }
    if (next.done) break;
  }

  summary = { ...summary, finishedAt: new Date().toISOString() };
  if (!input.dryRun) {
    const { row } = await recordReconciliation(summary);
    summary = { ...summary, summaryRow: row };
    const drift = metricMeter.createCounter(METRIC.reconcileDrift, '', 'Disagreements the reconciliation found, by kind');
    for (const [kind, n] of Object.entries(summary.drift)) drift.add(n ?? 0, { kind });
    metricMeter.createCounter(METRIC.reconcileSyncsStarted, '', 'Payment syncs the reconciliation started').add(summary.syncsStarted);
  }
  log.info('reconciliation done', { checked: summary.checked, drift: summary.drift, syncsStarted: summary.syncsStarted, dryRun: summary.dryRun });
  return summary;
}
