// Reconciliation (issue 11): what one invoice's ledger row, Tempo's FACTURE, Armado's bill and the service's
// own runs say, and what follows from them. Pure rules, so the activity only gathers facts and acts.
import { z } from 'zod';
import { ledgerDateAsArmado } from './dates';
import type { PaymentSyncInput } from './payment-input';

/** Disagreements, counted by kind in the result, the metric and the summary tab. */
export const DRIFT_KINDS = [
  'settled-in-tempo',
  'payment-missing',
  'tempo-not-settled',
  'tempo-invoice-missing',
  'armado-bill-missing',
  'armado-bill-ambiguous',
  'armado-disagrees',
  'bill-id-missing',
  'last-run-failed',
  /** An API refused this one invoice (a 400, say): it could not be checked tonight; the rest went on. */
  'check-failed',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];
/** Not drift: the invoice agrees everywhere, or a run is still working on it. */
export type Agreement = 'in-sync' | 'sync-running';

export type FindingAction =
  /** Nothing to do. */
  | 'none'
  /** A payment sync was started (or, on a dry run, would be). */
  | 'sync-started'
  | 'would-start'
  /** The sync to start already existed (a previous reconciliation started it): nothing new. */
  | 'already-started'
  /** The service cannot act without guessing: `detail` says what an operator needs. */
  | 'operator';

export interface Finding {
  invoiceNumber: string;
  kind: DriftKind | Agreement;
  action: FindingAction;
  detail: string;
  /** The run concerned (started, running or failed). */
  workflowId?: string;
}

/** A row of the ledger tab as the reconciliation reads it (1-based `row`). */
export interface LedgerSnapshotRow {
  row: number;
  invoiceNumber: string;
  status: string;
  paymentMode: string;
  paymentDate: string;
  amount: string;
  billId: string;
  /** "Mis à jour": when the writer last wrote the row (ISO 8601), or what a person typed there. */
  updatedAt: string;
  workflowId: string;
}

export type CandidateReason = 'partially-paid' | 'paid-without-bill' | 'last-run-failed' | 'asked' | 'settled-recent' | 'settled-sweep';

export interface Candidate {
  invoiceNumber: string;
  reason: CandidateReason;
  ledger?: LedgerSnapshotRow;
}

/** A payment the service has a run for: the input of that run (its latest execution) and how it stands. */
export interface KnownRun {
  workflowId: string;
  status: string;
  startedAt: string;
  input?: PaymentSyncInput;
  failureType?: string;
  /** The input's date as Armado reads it (wall clock in ARMADO_TIMEZONE). */
  armadoDate?: string;
  /** The input date's instant (seconds): the one order of payments. */
  instant?: number;
  paymentType?: number;
}

export interface ArmadoBillFacts {
  id: string;
  paymentType: number | null;
  paymentDate: string | null;
}

export interface InvoiceFacts {
  candidate: Candidate;
  tempo: { found: false } | { found: true; fullyPaid: boolean; settledOn?: string; totalAmount?: number; paidAmount?: number };
  /** Bills whose reference is exactly the invoice number. */
  bills: ArmadoBillFacts[];
  runs: KnownRun[];
  /** The ledger row's mode as an Armado paymentType (undefined: not a known mode). */
  ledgerPaymentType?: number;
}

/** What the rules conclude: the finding, and the sync to start when the data for it is certain. */
export interface Verdict {
  finding: Finding;
  start?: PaymentSyncInput;
}

const CLOSED_FAILED = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED', 'CANCELED']);
const euros = (n: number) => `${n.toFixed(2)} €`;
const cents = (n: number) => Math.round(n * 100);

/** The bill carries the ledger's payment: the same type and date, to the second (to the minute for a row written without its seconds). */
function billCarries(bill: ArmadoBillFacts, paymentType: number | undefined, ledgerDate: string): boolean {
  const expected = ledgerDateAsArmado(ledgerDate);
  if (!expected || bill.paymentType !== paymentType) return false;
  const shown = (bill.paymentDate ?? '').replace(' ', 'T');
  const precise = /\d{2}:\d{2}:\d{2}/.test(ledgerDate);
  return precise || !/\d{2}:\d{2}/.test(ledgerDate) ? shown.slice(0, 19) === expected.slice(0, 19) : shown.slice(0, 16) === expected.slice(0, 16);
}

function describeBill(bill: ArmadoBillFacts): string {
  return bill.paymentType === null ? `bill ${bill.id} carries no payment` : `bill ${bill.id} carries paymentType ${bill.paymentType} on ${bill.paymentDate ?? '?'}`;
}

/** The payment runs that count: Tempo confirmed them (200), whatever became of the run after. */
export function paymentRuns(runs: KnownRun[]): KnownRun[] {
  return runs.filter((r) => r.input?.tempoStatus === 200 && r.failureType !== 'InvalidPaymentInput' && r.failureType !== 'TempoUpdateNotConfirmed');
}

/**
 * The id under which the reconciliation syncs the settlement of an invoice whose settling payment the
 * service already ran (as partially paid): derived from that run, so a second reconciliation finds the
 * same id and starts nothing.
 */
export const RECONCILED_PREFIX = 'reconciled-';

export function settlementPaymentId(settlingRunWorkflowId: string, hash: (text: string) => string): string {
  return `${RECONCILED_PREFIX}${hash(settlingRunWorkflowId)}`;
}

export function judgeInvoice(facts: InvoiceFacts, hash: (text: string) => string): Verdict {
  const { candidate, tempo } = facts;
  const invoiceNumber = candidate.invoiceNumber;
  const ledger = candidate.ledger;
  const say = (kind: Finding['kind'], action: FindingAction, detail: string, workflowId?: string): Verdict => ({ finding: { invoiceNumber, kind, action, detail, workflowId } });

  const running = facts.runs.find((r) => r.status === 'RUNNING');
  if (running) return say('sync-running', 'none', 'a payment sync is still running for this invoice; it settles the invoice itself', running.workflowId);

  // A run the reconciliation started re-syncs a payment already counted (the settling one): not a payment of its own.
  const payments = paymentRuns(facts.runs)
    .filter((r) => !r.input?.paymentId?.startsWith(RECONCILED_PREFIX))
    .sort((a, b) => (a.instant ?? 0) - (b.instant ?? 0) || a.startedAt.localeCompare(b.startedAt));
  const latestRun = [...facts.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).at(-1);
  if (latestRun && CLOSED_FAILED.has(latestRun.status) && paymentRuns([latestRun]).length === 1) {
    return say(
      'last-run-failed',
      'operator',
      `the last run ${latestRun.status.toLowerCase()}${latestRun.failureType ? ` with ${latestRun.failureType}` : ''}; fix the cause, then: tempo-armado-sync reset-failed --query 'WorkflowId="${latestRun.workflowId}"'`,
      latestRun.workflowId,
    );
  }

  if (!ledger && payments.length === 0 && candidate.reason !== 'asked') {
    const refused = latestRun?.failureType ? ` (${latestRun.failureType})` : '';
    // Refused runs wrote nothing; but if Tempo says settled, a payment is missing from both stores.
    if (!(tempo.found && tempo.fullyPaid)) return say('in-sync', 'none', `its failed runs were refused before any write${refused}: no payment to sync`, latestRun?.workflowId);
    const retry = latestRun?.input ? ` If it is that payment, sync it: ${retryCommand(latestRun.input)}` : '';
    return say(
      'settled-in-tempo',
      'operator',
      `Tempo says settled, but every run of this invoice was refused before any write${refused}: nothing is in the ledger or Armado.${retry}`,
      latestRun?.workflowId,
    );
  }
  if (!tempo.found) return say('tempo-invoice-missing', 'operator', 'Tempo has no such invoice in this dossier (FACTURE answered 404); check the ledger row');

  const exact = facts.bills;
  // Unknown when a payment has no amount, or when no run is left to read (past the namespace's retention, the
  // ledger row alone does not tell the earlier partial payments).
  const knownSum = payments.length > 0 && payments.every((p) => p.input?.amount !== undefined) ? payments.reduce((sum, p) => sum + cents(p.input?.amount ?? 0), 0) : undefined;
  const invoiceTotal = tempo.totalAmount ?? tempo.paidAmount;
  const ledgerPaid = ledger?.status === 'Payée';

  if (tempo.fullyPaid && !ledgerPaid) {
    const latest = payments.at(-1);
    const settledOn = tempo.settledOn ? `${tempo.settledOn.slice(0, 4)}-${tempo.settledOn.slice(4, 6)}-${tempo.settledOn.slice(6, 8)}` : 'an unknown date';
    const known =
      payments.length === 0
        ? "no run of it (past Temporal's retention?)"
        : knownSum === undefined
          ? 'payments without an amount'
          : `${euros(knownSum / 100)} in ${payments.length} payment(s)`;
    // Certain only when the payments the service ran add up to the whole invoice: then the latest of them
    // settled it (Tempo was marked paid after its run read FACTURE), and its mode and date are known.
    if (latest?.input && knownSum !== undefined && invoiceTotal !== undefined && knownSum === cents(invoiceTotal)) {
      const start: PaymentSyncInput = { ...latest.input, tempoStatus: 200, paymentId: settlementPaymentId(latest.workflowId, hash) };
      return {
        finding: {
          invoiceNumber,
          kind: 'settled-in-tempo',
          action: 'sync-started',
          detail: `Tempo settled it on ${settledOn}; the runs the service knows cover the whole ${euros(invoiceTotal)}: the settling payment (${latest.input.paymentMode}, ${latest.input.paymentDate}) is synced again as paid`,
        },
        start,
      };
    }
    if (invoiceTotal !== undefined && knownSum !== undefined && knownSum > cents(invoiceTotal)) {
      return say(
        'settled-in-tempo',
        'operator',
        `Tempo settled it on ${settledOn} (total ${euros(invoiceTotal)}) but the service's runs add up to more, ${known}: a payment synced twice under different ids, or the wrong invoice? Check its runs: tempo-armado-sync status ${invoiceNumber}`,
      );
    }
    const missing = invoiceTotal !== undefined && knownSum !== undefined ? ` a payment of ${euros(invoiceTotal - knownSum / 100)}` : ' a payment';
    return say(
      'settled-in-tempo',
      'operator',
      `Tempo settled it on ${settledOn} (total ${invoiceTotal === undefined ? '?' : euros(invoiceTotal)}), the service knows ${known}:${missing} never triggered a sync and its mode is unknown. ` +
        `Start it, with MODE its mode (one the modes command lists)${tempo.settledOn ? '' : ' and DATE its date'}: tempo-armado-sync start --invoice ${invoiceNumber} --mode MODE --date ${tempo.settledOn ? settledOn : 'DATE'} --tempo-status 200${invoiceTotal !== undefined && knownSum !== undefined ? ` --amount ${(invoiceTotal - knownSum / 100).toFixed(2)}` : ''} --retry-failed (or add it to a backfill file)`,
    );
  }

  if (!tempo.fullyPaid) {
    if (ledgerPaid)
      return say(
        'tempo-not-settled',
        'operator',
        `the ledger says Payée (${ledger?.paymentDate}) but Tempo's FACTURE says not fully paid (RegleeTotale ≠ OUI): was the payment cancelled in Tempo?`,
      );
    const withPayment = exact.find((b) => b.paymentType !== null);
    if (withPayment) return say('armado-disagrees', 'operator', `Tempo says partially paid but Armado's ${describeBill(withPayment)}`);
    if (tempo.paidAmount !== undefined && knownSum !== undefined && cents(tempo.paidAmount) > knownSum) {
      return say(
        'payment-missing',
        'operator',
        `Tempo has received ${euros(tempo.paidAmount)}, the service knows ${euros(knownSum / 100)}: a partial payment of ${euros(tempo.paidAmount - knownSum / 100)} never triggered a sync (its mode and date are unknown; add it to a backfill file)`,
      );
    }
    return say('in-sync', 'none', `partially paid${tempo.paidAmount !== undefined ? ` (${euros(tempo.paidAmount)} received)` : ''}; waiting for the rest`);
  }

  // Fully paid in Tempo and Payée in the ledger: Armado must carry the ledger's payment.
  if (exact.length === 0)
    return say(
      'armado-bill-missing',
      'operator',
      `Armado has no bill with reference ${invoiceNumber}; create it, then reconcile again or reset the run ${ledger?.workflowId ?? ''}`.trim(),
      ledger?.workflowId || undefined,
    );
  if (exact.length > 1)
    return say('armado-bill-ambiguous', 'operator', `Armado has ${exact.length} bills with reference ${invoiceNumber} (ids ${exact.map((b) => b.id).join(', ')}); keep one`);
  const bill = exact[0] as ArmadoBillFacts;
  if (!billCarries(bill, facts.ledgerPaymentType, ledger?.paymentDate ?? '')) {
    return say(
      'armado-disagrees',
      'operator',
      `the ledger shows ${ledger?.paymentMode} on ${ledger?.paymentDate} (paymentType ${facts.ledgerPaymentType ?? '?'}) but Armado's ${describeBill(bill)}. ` +
        `Nothing was overwritten (a person may have changed it on purpose); to put the ledger's payment back on the bill: tempo-armado-sync reapply-ledger --invoice ${invoiceNumber}`,
      ledger?.workflowId || undefined,
    );
  }
  if (!ledger?.billId)
    return say('bill-id-missing', 'operator', `Armado's bill ${bill.id} carries the payment but the ledger's "Bill Armado" cell is empty; type ${bill.id} there`);
  return say('in-sync', 'none', `paid; Armado bill ${bill.id} carries the payment`);
}

/**
 * Which settled rows a reconciliation checks against Armado: those written since the previous one (`recentSince`),
 * and the rotating slice of the others that falls on the days since the previous one (`dueBuckets`): each settled
 * row belongs to one of `buckets` slices (one per day of RECONCILE_FULL_SWEEP), so that it is checked at least
 * once per sweep however often the reconciliation runs.
 */
export interface SweepPlan {
  recentSince: number;
  buckets: number;
  dueBuckets: number[];
}

/** The slices due on `today` when the previous full reconciliation was on `previousDay` (day numbers, local calendar). */
export function dueSweepBuckets(today: number, previousDay: number | undefined, buckets: number): number[] {
  const days = previousDay === undefined || previousDay >= today ? 1 : Math.min(buckets, today - previousDay);
  return Array.from({ length: days }, (_, k) => (((today - k) % buckets) + buckets) % buckets).sort((a, b) => a - b);
}

/** Which ledger rows the nightly walk looks at: every invoice not in its final state, and the settled rows the sweep plan names. */
export function candidateReason(row: LedgerSnapshotRow, sweep?: SweepPlan, bucketOf?: (invoiceNumber: string) => number): CandidateReason | undefined {
  if (row.status === 'Partiellement payée') return 'partially-paid';
  if (row.status === 'Payée' && !row.billId) return 'paid-without-bill';
  if (row.status !== 'Payée' || !sweep) return undefined;
  const updated = Date.parse(row.updatedAt);
  // A date a person typed and that does not read as one counts as recent: better checked than skipped.
  if (Number.isNaN(updated) || updated >= sweep.recentSince) return 'settled-recent';
  if (bucketOf && sweep.dueBuckets.includes(bucketOf(row.invoiceNumber))) return 'settled-sweep';
  return undefined;
}

/** `tempo-armado-sync start …` for a payment whose runs all failed or were refused: a new run may take the failed one's id. */
export function retryCommand(input: PaymentSyncInput): string {
  // Quoted for a POSIX shell when needed, a quote inside kept as it is ('\''): the pasted values are the run's own.
  const quote = (v: string) => (/^[\w.:+@-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  const parts = ['tempo-armado-sync start', `--invoice ${input.invoiceNumber}`, `--mode ${quote(input.paymentMode)}`, `--date ${quote(input.paymentDate)}`, '--tempo-status 200'];
  if (input.amount !== undefined) parts.push(`--amount ${input.amount.toFixed(2)}`);
  if (input.dossier) parts.push(`--dossier ${quote(input.dossier)}`);
  if (input.paymentId) parts.push(`--payment-id ${quote(input.paymentId)}`);
  parts.push('--retry-failed');
  return parts.join(' ');
}

/** Invoice numbers in numeric order (they are digit strings of varying length). */
export function compareInvoiceNumbers(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export const ReconcileInputSchema = z
  .object({
    dryRun: z.boolean().default(false),
    invoice: z
      .string()
      .regex(/^\d{1,20}$/, 'must be a Tempo invoice number (digits)')
      .optional(),
  })
  .strict();
export type ReconcileInput = z.input<typeof ReconcileInputSchema>;

/** Kept in the result (and carried through continue-as-new); the counts cover every finding. */
export const MAX_REPORTED_FINDINGS = 200;

export interface ReconcileSummary {
  /** The reconciliation's workflow id: the key of its row in the summary tab. */
  reconciliationId: string;
  startedAt: string;
  finishedAt?: string;
  dryRun: boolean;
  invoice?: string;
  ledgerRows: number;
  checked: number;
  inSync: number;
  running: number;
  drift: Partial<Record<DriftKind, number>>;
  /** Syncs started (or, on a dry run, that would be); `started` lists the first MAX_REPORTED_FINDINGS. */
  syncsStarted: number;
  started: { invoiceNumber: string; workflowId: string }[];
  alreadyStarted: number;
  /** Drift first, then the rest, up to MAX_REPORTED_FINDINGS. */
  findings: Finding[];
  findingsOmitted: number;
  summaryRow?: number;
}

export function emptySummary(reconciliationId: string, startedAt: string, input: { dryRun: boolean; invoice?: string }): ReconcileSummary {
  return {
    reconciliationId,
    startedAt,
    dryRun: input.dryRun,
    invoice: input.invoice,
    ledgerRows: 0,
    checked: 0,
    inSync: 0,
    running: 0,
    drift: {},
    syncsStarted: 0,
    started: [],
    alreadyStarted: 0,
    findings: [],
    findingsOmitted: 0,
  };
}

export function addFindings(summary: ReconcileSummary, findings: Finding[]): ReconcileSummary {
  const next = { ...summary, drift: { ...summary.drift }, started: [...summary.started], findings: [...summary.findings] };
  for (const f of findings) {
    next.checked += 1;
    if (f.kind === 'in-sync') next.inSync += 1;
    else if (f.kind === 'sync-running') next.running += 1;
    else next.drift[f.kind] = (next.drift[f.kind] ?? 0) + 1;
    if ((f.action === 'sync-started' || f.action === 'would-start') && f.workflowId) {
      next.syncsStarted += 1;
      if (next.started.length < MAX_REPORTED_FINDINGS) next.started.push({ invoiceNumber: f.invoiceNumber, workflowId: f.workflowId });
    }
    if (f.action === 'already-started') next.alreadyStarted += 1;
    // Agreement is counted, not listed, unless one invoice was asked about.
    if ((f.kind === 'in-sync' || f.kind === 'sync-running') && !next.invoice) continue;
    if (next.findings.length < MAX_REPORTED_FINDINGS) next.findings.push(f);
    else next.findingsOmitted += 1;
  }
  return next;
}

export function driftTotal(summary: Pick<ReconcileSummary, 'drift'>): number {
  return Object.values(summary.drift).reduce((a, b) => a + (b ?? 0), 0);
}
