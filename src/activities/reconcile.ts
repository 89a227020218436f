// The reconciliation's activities: read the ledger, gather what Tempo, Armado and Temporal say about each
// invoice (paced, heartbeating its progress so a retry resumes), start the syncs the rules allow, and
// write the night's row in the summary tab.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { arrayFromPayloads } from '@temporalio/common';
import { a1, type SheetsClient } from '../apis/sheets';
import type { ArmadoClient } from '../apis/armado';
import type { TempoClient } from '../apis/tempo';
import { paymentWorkflowId, startPaymentSync } from '../client/payment-sync-client';
import { formatArmadoDate, formatLedgerDate, parsePaymentDate, toWallClock, wallClockInstants } from '../domain/dates';
import { ErrorType, failureMessageOf, failureTypeOf } from '../domain/errors';
import { paymentInstant } from '../domain/payment-order';
import { checkPaymentInput } from '../domain/payment-input';
import { normalizePaymentMode, type PaymentModeTable } from '../domain/payment-modes';
import { LEDGER_HEADER } from '../domain/shapes';
import {
  candidateReason,
  compareInvoiceNumbers,
  driftTotal,
  dueSweepBuckets,
  type SweepPlan,
  judgeInvoice,
  type Candidate,
  type Finding,
  type InvoiceFacts,
  type KnownRun,
  type LedgerSnapshotRow,
  type ReconcileSummary,
} from '../domain/reconciliation';
import type { PaymentSyncMemo } from '../domain/run-summary';
import { InvoiceNumberKey } from '../workflows/contract';
import { activityLog } from './log';

export interface ReconcileActivityDeps {
  tempo: TempoClient;
  armado: ArmadoClient;
  sheets: SheetsClient;
  spreadsheetId: string;
  sheetName: string;
  summarySheetName: string;
  defaultDossier: string;
  timeZone: string;
  paymentModes: PaymentModeTable;
  /** Calls per second to Tempo and to Armado, each. */
  ratePerSecond: number;
  /** Every settled row is checked against Armado at least once in this period (RECONCILE_FULL_SWEEP). */
  fullSweepMs: number;
}

export const SUMMARY_HEADER = ['Date', 'Lignes du registre', 'Vérifiées', 'Écarts', 'Syncs lancées', 'Détail', 'Exécution'] as const;
const LEDGER_LAST_COLUMN = String.fromCharCode(64 + LEDGER_HEADER.length);
/** Invoices inspected side by side; the pacers, not this, bound the rate of calls. */
const CONCURRENCY = 4;

/** Spaces calls to one API evenly; shared by every activity of the worker, so the rate is the worker's. */
class Pacer {
  private next = 0;
  constructor(private readonly intervalMs: number) {}

  /** Waits for this caller's slot, then throws if the attempt was cancelled meanwhile. */
  async turn(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await sleep(at - now);
    signal?.throwIfAborted();
  }
}

const hash12 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);
const DAY_MS = 86_400_000;
/**
 * Rows written this long before the previous reconciliation finished still count as recent: it may have read the
 * ledger hours before it finished (a large ledger at RECONCILE_RATE), and clocks differ.
 */
const RECENT_MARGIN_MS = 6 * 3_600_000;
/** The summary row of a reconciliation of one invoice starts so: it swept nothing. */
const ONE_INVOICE_PREFIX = 'facture ';

/** The instant of a summary row's `YYYY-MM-DD HH:mm` (local time), the earliest if the clocks went back. */
function localInstant(text: string, timeZone: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})/.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number) as [number, number, number, number, number];
  return wallClockInstants({ year, month, day, hour, minute, second: 0 }, timeZone)[0];
}

/** A calendar day number (days since 1970-01-01) of a `YYYY-MM-DD` reading. */
function dayNumber(ymd: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(ymd.trim());
  return m ? Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS) : undefined;
}

function ledgerRowsOf(values: string[][]): LedgerSnapshotRow[] {
  return values.slice(1).flatMap((cells, index) => {
    const invoiceNumber = (cells[0] ?? '').trim();
    if (!/^\d{1,20}$/.test(invoiceNumber)) return [];
    const cell = (i: number) => (cells[i] ?? '').trim();
    return [
      { row: index + 2, invoiceNumber, status: cell(1), paymentMode: cell(2), paymentDate: cell(3), amount: cell(4), billId: cell(5), updatedAt: cell(6), workflowId: cell(7) },
    ];
  });
}

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export function createReconcileActivities(deps: ReconcileActivityDeps) {
  const tempoPacer = new Pacer(1000 / deps.ratePerSecond);
  const armadoPacer = new Pacer(1000 / deps.ratePerSecond);

  function temporal(): { client: Client; taskQueue: string } {
    const ctx = Context.current();
    return { client: ctx.client, taskQueue: ctx.info.taskQueue };
  }

  async function readLedger(): Promise<LedgerSnapshotRow[]> {
    return ledgerRowsOf(await deps.sheets.readValues(deps.spreadsheetId, a1(deps.sheetName, `A:${LEDGER_LAST_COLUMN}`)));
  }

  /**
   * Which settled rows this reconciliation checks: those written since the previous full reconciliation (read from
   * the summary tab, where each one leaves its row), and the slices of the rotation due since then.
   */
  async function sweepPlan(startedAt: string): Promise<SweepPlan> {
    const started = Date.parse(startedAt);
    const buckets = Math.max(1, Math.round(deps.fullSweepMs / DAY_MS));
    const today = dayNumber(formatLedgerDate(toWallClock({ kind: 'instant', epochMs: started }, deps.timeZone), true)) as number;
    const summary = await deps.sheets.readValues(deps.spreadsheetId, a1(deps.summarySheetName, 'A:G')).catch((err: unknown) => {
      if (failureTypeOf(err) === ErrorType.SheetsRequestRejected) return [] as string[][]; // no summary tab yet
      throw err;
    });
    let previousDay: number | undefined;
    let previousAt: number | undefined;
    for (const cells of summary.slice(1)) {
      if ((cells[5] ?? '').startsWith(ONE_INVOICE_PREFIX)) continue;
      const day = dayNumber(cells[0] ?? '');
      if (day === undefined || day > today) continue;
      const at = localInstant(cells[0] ?? '', deps.timeZone);
      if (previousDay === undefined || day > previousDay || (day === previousDay && (at ?? 0) > (previousAt ?? 0))) {
        previousDay = day;
        previousAt = at;
      }
    }
    // Without a previous reconciliation, the rows of the last two days are the recent ones.
    const recentSince = previousAt !== undefined ? previousAt - RECENT_MARGIN_MS : started - 2 * DAY_MS;
    return { recentSince, buckets, dueBuckets: dueSweepBuckets(today, previousDay, buckets) };
  }

  /** Invoices whose runs on this task queue ended badly (within the namespace's retention). */
  async function invoicesWithFailedRuns(client: Client, taskQueue: string): Promise<Set<string>> {
    const found = new Set<string>();
    const query = `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${taskQueue}" AND (ExecutionStatus="Failed" OR ExecutionStatus="Terminated" OR ExecutionStatus="TimedOut" OR ExecutionStatus="Canceled")`;
    for await (const e of client.workflow.list({ query })) {
      const invoice = e.typedSearchAttributes.get(InvoiceNumberKey);
      if (invoice) found.add(invoice);
    }
    return found;
  }

  /** The latest execution of every payment sync of the invoice, with the input it was started with. */
  async function runsOf(client: Client, taskQueue: string, invoiceNumber: string): Promise<KnownRun[]> {
    const latest = new Map<string, { runId: string; status: string; startedAt: string; failureType?: string }>();
    const query = `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${taskQueue}" AND InvoiceNumber="${invoiceNumber}"`;
    for await (const e of client.workflow.list({ query })) {
      const startedAt = e.startTime.toISOString();
      const seen = latest.get(e.workflowId);
      if (seen && seen.startedAt >= startedAt) continue;
      const memo = e.memo as Partial<PaymentSyncMemo> | undefined;
      latest.set(e.workflowId, { runId: e.runId, status: e.status.name, startedAt, failureType: typeof memo?.failureType === 'string' ? memo.failureType : undefined });
    }
    const runs: KnownRun[] = [];
    for (const [workflowId, run] of latest) {
      // The first event holds the input; one event per call keeps this cheap whatever the history's length.
      const page = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId, runId: run.runId },
        maximumPageSize: 1,
      });
      const payloads = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
      const [raw] = arrayFromPayloads(client.options.loadedDataConverter.payloadConverter, payloads);
      const check = checkPaymentInput(raw);
      const known: KnownRun = { workflowId, status: run.status, startedAt: run.startedAt, failureType: run.failureType };
      if (check.ok) {
        known.input = check.input;
        const date = parsePaymentDate(check.input.paymentDate);
        if (date) {
          known.armadoDate = formatArmadoDate(toWallClock(date, deps.timeZone));
          known.instant = paymentInstant(date, deps.timeZone);
        }
      }
      runs.push(known);
    }
    return runs;
  }

  async function factsOf(client: Client, taskQueue: string, candidate: Candidate, signal: AbortSignal): Promise<InvoiceFacts> {
    const runs = await runsOf(client, taskQueue, candidate.invoiceNumber);
    const dossier = runs.map((r) => r.input?.dossier).find((d) => d !== undefined) ?? deps.defaultDossier;
    const [tempo, bills] = await Promise.all([
      tempoPacer.turn(signal).then(() =>
        deps.tempo.getInvoice(dossier, candidate.invoiceNumber).then(
          (s) => ({ found: true as const, ...s }),
          (err: unknown) => {
            if (failureTypeOf(err) === ErrorType.TempoInvoiceNotFound) return { found: false as const };
            throw err;
          },
        ),
      ),
      armadoPacer.turn(signal).then(() => deps.armado.searchBills(candidate.invoiceNumber)),
    ]);
    const exact = bills
      .filter((b) => b.reference.trim() === candidate.invoiceNumber)
      .map((b) => ({ id: b.id, paymentType: b.paymentType ?? null, paymentDate: b.paymentDate ?? null }));
    const ledgerMode = candidate.ledger ? deps.paymentModes.get(normalizePaymentMode(candidate.ledger.paymentMode)) : undefined;
    return { candidate, tempo, bills: exact, runs, ledgerPaymentType: ledgerMode };
  }

  async function act(client: Client, taskQueue: string, facts: InvoiceFacts, dryRun: boolean): Promise<Finding> {
    const verdict = judgeInvoice(facts, hash12);
    if (!verdict.start) return verdict.finding;
    const options = { taskQueue, defaultDossier: deps.defaultDossier, paymentModes: deps.paymentModes };
    if (dryRun) return { ...verdict.finding, action: 'would-start', workflowId: paymentWorkflowId(verdict.start, deps.defaultDossier) };
    // The same path as every start: validated, the DESIGN id, and a payment already started is not started again.
    const started = await startPaymentSync(client, verdict.start, options);
    activityLog('info', started.duplicate ? 'reconciliation: sync already started' : 'reconciliation started a payment sync', {
      invoiceNumber: facts.candidate.invoiceNumber,
      workflowId: started.workflowId,
    });
    return { ...verdict.finding, action: started.duplicate ? 'already-started' : 'sync-started', workflowId: started.workflowId };
  }

  /**
   * One invoice's finding. An API that refuses this invoice for good (a 400, a 401) makes it a `check-failed`
   * finding and the page goes on; a transient failure fails the attempt for Temporal to retry (the whole API is
   * likely down), until the third attempt, from which it too is a finding: one invoice never fails the night.
   */
  async function inspectOne(client: Client, taskQueue: string, candidate: Candidate, dryRun: boolean, signal: AbortSignal, attempt: number): Promise<Finding> {
    try {
      return await act(client, taskQueue, await factsOf(client, taskQueue, candidate, signal), dryRun);
    } catch (err) {
      if (signal.aborted) throw err;
      const permanent = (err as { nonRetryable?: boolean }).nonRetryable === true;
      if (!permanent && attempt < 3) throw err;
      const type = failureTypeOf(err);
      activityLog('warn', 'reconciliation could not check an invoice', { invoiceNumber: candidate.invoiceNumber, type });
      return {
        invoiceNumber: candidate.invoiceNumber,
        kind: 'check-failed',
        action: 'operator',
        detail: `could not be checked (${type}: ${failureMessageOf(err).slice(0, 300)}); fix the cause, then: tempo-armado-sync reconcile --invoice ${candidate.invoiceNumber}`,
      };
    }
  }

  return {
    /**
     * The invoices to look at after `after` (numeric order), at most `limit`: ledger rows not in their final
     * state and invoices whose runs failed; or just `invoice` when one is asked for.
     */
    async listReconcileCandidates(args: {
      after?: string;
      limit: number;
      invoice?: string;
      /** The reconciliation's start: the same sweep plan on every page. Absent (a run started before it): no settled rows. */
      startedAt?: string;
    }): Promise<{ ledgerRows: number; candidates: Candidate[]; done: boolean }> {
      const rows = await readLedger();
      const byInvoice = new Map<string, LedgerSnapshotRow>();
      for (const row of rows) if (!byInvoice.has(row.invoiceNumber)) byInvoice.set(row.invoiceNumber, row);
      if (args.invoice) {
        return { ledgerRows: rows.length, candidates: args.after ? [] : [{ invoiceNumber: args.invoice, reason: 'asked', ledger: byInvoice.get(args.invoice) }], done: true };
      }
      const candidates = new Map<string, Candidate>();
      const sweep = args.startedAt ? await sweepPlan(args.startedAt) : undefined;
      const bucketOf = (invoiceNumber: string) => parseInt(hash12(invoiceNumber).slice(0, 8), 16) % (sweep?.buckets ?? 1);
      for (const row of byInvoice.values()) {
        const reason = candidateReason(row, sweep, bucketOf);
        if (reason) candidates.set(row.invoiceNumber, { invoiceNumber: row.invoiceNumber, reason, ledger: row });
      }
      const { client, taskQueue } = temporal();
      for (const invoice of await invoicesWithFailedRuns(client, taskQueue)) {
        if (!candidates.has(invoice)) candidates.set(invoice, { invoiceNumber: invoice, reason: 'last-run-failed', ledger: byInvoice.get(invoice) });
      }
      const after = args.after;
      const ordered = [...candidates.values()]
        .filter((c) => after === undefined || compareInvoiceNumbers(c.invoiceNumber, after) > 0)
        .sort((a, b) => compareInvoiceNumbers(a.invoiceNumber, b.invoiceNumber));
      return { ledgerRows: rows.length, candidates: ordered.slice(0, args.limit), done: ordered.length <= args.limit };
    },

    /** One finding per candidate, in order. A retry (crash, timeout) resumes after the last heartbeated invoice. */
    async inspectInvoices(args: { candidates: Candidate[]; dryRun: boolean }): Promise<Finding[]> {
      const ctx = currentContext();
      const resumed = ctx?.info.heartbeatDetails as { findings?: Finding[] } | undefined;
      const findings: (Finding | undefined)[] = [...(resumed?.findings ?? [])];
      const { client, taskQueue } = temporal();
      const signal = ctx?.cancellationSignal ?? new AbortController().signal;
      const beat = () => ctx?.heartbeat({ findings: prefix(findings) });
      const timer = setInterval(beat, 2_000);
      try {
        let next = prefix(findings).length;
        const worker = async () => {
          for (;;) {
            const index = next++;
            const candidate = args.candidates[index];
            if (!candidate) return;
            signal.throwIfAborted();
            findings[index] = await inspectOne(client, taskQueue, candidate, args.dryRun, signal, ctx?.info.attempt ?? 1);
            beat();
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      } finally {
        clearInterval(timer);
      }
      return findings as Finding[];
    },

    /** The night's row in the summary tab (created when missing), keyed by the reconciliation's id: a retry rewrites it. */
    async recordReconciliation(summary: ReconcileSummary): Promise<{ row: number }> {
      const { sheets, spreadsheetId } = deps;
      const tab = deps.summarySheetName;
      await sheets.sheetId(spreadsheetId, tab).catch(async (err: unknown) => {
        if (failureTypeOf(err) !== ErrorType.SheetsRequestRejected) throw err;
        await sheets.batchUpdateSpreadsheet(spreadsheetId, [{ addSheet: { properties: { title: tab } } }]).catch((addErr: unknown) => {
          // Created meanwhile (an earlier attempt whose answer was lost): fine.
          if (failureTypeOf(addErr) !== ErrorType.SheetsRequestRejected) throw addErr;
        });
      });
      const values = await sheets.readValues(spreadsheetId, a1(tab, 'A:G'));
      const existing = values.findIndex((cells, i) => i > 0 && cells[6] === summary.reconciliationId);
      const rowNumber = existing >= 0 ? existing + 1 : Math.max(values.length, 1) + 1;
      const finished = parsePaymentDate(summary.finishedAt ?? summary.startedAt);
      const drift = Object.entries(summary.drift).map(([kind, n]) => `${kind}: ${n}`);
      const data = [
        {
          range: a1(tab, `A${rowNumber}:G${rowNumber}`),
          values: [
            [
              finished ? formatLedgerDate(toWallClock(finished, deps.timeZone), false) : summary.startedAt,
              summary.ledgerRows,
              summary.checked,
              driftTotal(summary),
              summary.syncsStarted,
              `${summary.invoice ? `${ONE_INVOICE_PREFIX}${summary.invoice}: ` : ''}${drift.length ? drift.join(', ') : 'aucun écart'}`,
              summary.reconciliationId,
            ],
          ],
        },
      ];
      if (values.length === 0) data.unshift({ range: a1(tab, 'A1:G1'), values: [[...SUMMARY_HEADER]] });
      await sheets.batchUpdate(spreadsheetId, data);
      activityLog('info', 'reconciliation summary written', { tab, row: rowNumber, drift: driftTotal(summary) });
      return { row: rowNumber };
    },
  };
}

/** The findings done so far without a gap (concurrent inspections finish out of order). */
function prefix(findings: (Finding | undefined)[]): Finding[] {
  const out: Finding[] = [];
  for (const f of findings) {
    if (!f) break;
    out.push(f);
  }
  return out;
}
