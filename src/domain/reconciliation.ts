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

/** What the rules read: one invoice's facts, and what follows from them, worked out once. */
interface InvoiceCase {
  invoiceNumber: string;
  candidate: Candidate;
  ledger?: LedgerSnapshotRow;
  /** Tempo's FACTURE; an invoice Tempo does not have reads as not settled. */
  tempo: { found: boolean; fullyPaid: boolean; settledOn?: string; totalAmount?: number; paidAmount?: number };
  bills: ArmadoBillFacts[];
  ledgerPaymentType?: number;
  running?: KnownRun;
  latestRun?: KnownRun;
  /** The payments the service ran, in the one order of payments. */
  payments: KnownRun[];
  /** In cents. */
  knownSum?: number;
  invoiceTotal?: number;
  ledgerPaid: boolean;
  hash: (text: string) => string;
}

function invoiceCase(facts: InvoiceFacts, hash: (text: string) => string): InvoiceCase {
  const tempo: InvoiceCase['tempo'] = facts.tempo.found ? facts.tempo : { found: false, fullyPaid: false };
  // A run the reconciliation started re-syncs a payment already counted (the settling one): not a payment of its own.
  const payments = paymentRuns(facts.runs)
    .filter((r) => !r.input?.paymentId?.startsWith(RECONCILED_PREFIX))
    .sort((a, b) => (a.instant ?? 0) - (b.instant ?? 0) || a.startedAt.localeCompare(b.startedAt));
  // Unknown when a payment has no amount, or when no run is left to read (past the namespace's retention, the
  // ledger row alone does not tell the earlier partial payments).
  const knownSum = payments.length > 0 && payments.every((p) => p.input?.amount !== undefined) ? payments.reduce((sum, p) => sum + cents(p.input?.amount ?? 0), 0) : undefined;
  return {
    invoiceNumber: facts.candidate.invoiceNumber,
    candidate: facts.candidate,
    ledger: facts.candidate.ledger,
    tempo,
    bills: facts.bills,
    ledgerPaymentType: facts.ledgerPaymentType,
    running: facts.runs.find((r) => r.status === 'RUNNING'),
    latestRun: [...facts.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).at(-1),
    payments,
    knownSum,
    invoiceTotal: tempo.totalAmount ?? tempo.paidAmount,
    ledgerPaid: facts.candidate.ledger?.status === 'Payée',
    hash,
  };
}

function say(c: InvoiceCase, kind: Finding['kind'], action: FindingAction, detail: string, workflowId?: string): Verdict {
  return { finding: { invoiceNumber: c.invoiceNumber, kind, action, detail, workflowId } };
}

const lastRunFailed = (c: InvoiceCase) => c.latestRun !== undefined && CLOSED_FAILED.has(c.latestRun.status) && paymentRuns([c.latestRun]).length === 1;
/** Neither the ledger nor any payment run knows of a payment, and no one asked about this invoice. */
const nothingWritten = (c: InvoiceCase) => !c.ledger && c.payments.length === 0 && c.candidate.reason !== 'asked';
const refusedBecause = (c: InvoiceCase) => (c.latestRun?.failureType ? ` (${c.latestRun.failureType})` : '');
const settledButNotInLedger = (c: InvoiceCase) => c.tempo.fullyPaid && !c.ledgerPaid;
const settledOnText = (c: InvoiceCase) =>
  c.tempo.settledOn ? `${c.tempo.settledOn.slice(0, 4)}-${c.tempo.settledOn.slice(4, 6)}-${c.tempo.settledOn.slice(6, 8)}` : 'an unknown date';
/** What the known payments leave of the invoice, in euros (undefined when either is unknown). */
const shortfall = (c: InvoiceCase) => (c.invoiceTotal !== undefined && c.knownSum !== undefined ? c.invoiceTotal - c.knownSum / 100 : undefined);
const billWithPayment = (c: InvoiceCase) => c.bills.find((b) => b.paymentType !== null);
const onlyBill = (c: InvoiceCase) => c.bills[0] as ArmadoBillFacts;

function knownPaymentsText(c: InvoiceCase): string {
  if (c.payments.length === 0) return "no run of it (past Temporal's retention?)";
  if (c.knownSum === undefined) return 'payments without an amount';
  return `${euros(c.knownSum / 100)} in ${c.payments.length} payment(s)`;
}

type SettlingRun = { workflowId: string; input: PaymentSyncInput };

/**
 * Certain only when the payments the service ran add up to the whole invoice: then the latest of them settled it
 * (Tempo was marked paid after its run read FACTURE), and its mode and date are known.
 */
function settlingRun(c: InvoiceCase): SettlingRun | undefined {
  const latest = c.payments.at(-1);
  if (!latest?.input || c.knownSum === undefined || c.invoiceTotal === undefined || c.knownSum !== cents(c.invoiceTotal)) return undefined;
  return { workflowId: latest.workflowId, input: latest.input };
}

function resyncSettlement(c: InvoiceCase): Verdict {
  const latest = settlingRun(c) as SettlingRun;
  const start: PaymentSyncInput = { ...latest.input, tempoStatus: 200, paymentId: settlementPaymentId(latest.workflowId, c.hash) };
  return {
    finding: {
      invoiceNumber: c.invoiceNumber,
      kind: 'settled-in-tempo',
      action: 'sync-started',
      detail: `Tempo settled it on ${settledOnText(c)}; the runs the service knows cover the whole ${euros(c.invoiceTotal as number)}: the settling payment (${latest.input.paymentMode}, ${latest.input.paymentDate}) is synced again as paid`,
    },
    start,
  };
}

function settlementNeverSynced(c: InvoiceCase): Verdict {
  const { invoiceTotal, tempo } = c;
  const missing = shortfall(c);
  return say(
    c,
    'settled-in-tempo',
    'operator',
    `Tempo settled it on ${settledOnText(c)} (total ${invoiceTotal === undefined ? '?' : euros(invoiceTotal)}), the service knows ${knownPaymentsText(c)}:${missing !== undefined ? ` a payment of ${euros(missing)}` : ' a payment'} never triggered a sync and its mode is unknown. ` +
      `Start it, with MODE its mode (one the modes command lists)${tempo.settledOn ? '' : ' and DATE its date'}: tempo-armado-sync start --invoice ${c.invoiceNumber} --mode MODE --date ${tempo.settledOn ? settledOnText(c) : 'DATE'} --tempo-status 200${missing !== undefined ? ` --amount ${missing.toFixed(2)}` : ''} --retry-failed (or add it to a backfill file)`,
  );
}

/** One rule of the reconciliation: the first of RULES that applies gives the verdict. */
interface Rule {
  name: string;
  applies: (c: InvoiceCase) => boolean;
  verdict: (c: InvoiceCase) => Verdict;
}

const RULES: readonly Rule[] = [
  {
    name: 'a sync is running',
    applies: (c) => c.running !== undefined,
    verdict: (c) => say(c, 'sync-running', 'none', 'a payment sync is still running for this invoice; it settles the invoice itself', c.running?.workflowId),
  },
  {
    name: 'the last payment run failed',
    applies: lastRunFailed,
    verdict: (c) => {
      const run = c.latestRun as KnownRun;
      return say(
        c,
        'last-run-failed',
        'operator',
        `the last run ${run.status.toLowerCase()}${run.failureType ? ` with ${run.failureType}` : ''}; fix the cause, then: tempo-armado-sync reset-failed --query 'WorkflowId="${run.workflowId}"'`,
        run.workflowId,
      );
    },
  },
  // Refused runs wrote nothing; but if Tempo says settled, a payment is missing from both stores.
  {
    name: 'every run was refused, and Tempo is not settled',
    applies: (c) => nothingWritten(c) && !c.tempo.fullyPaid,
    verdict: (c) => say(c, 'in-sync', 'none', `its failed runs were refused before any write${refusedBecause(c)}: no payment to sync`, c.latestRun?.workflowId),
  },
  {
    name: 'every run was refused, but Tempo is settled',
    applies: (c) => nothingWritten(c) && c.tempo.fullyPaid,
    verdict: (c) => {
      const retry = c.latestRun?.input ? ` If it is that payment, sync it: ${retryCommand(c.latestRun.input)}` : '';
      return say(
        c,
        'settled-in-tempo',
        'operator',
        `Tempo says settled, but every run of this invoice was refused before any write${refusedBecause(c)}: nothing is in the ledger or Armado.${retry}`,
        c.latestRun?.workflowId,
      );
    },
  },
  {
    name: 'Tempo has no such invoice',
    applies: (c) => !c.tempo.found,
    verdict: (c) => say(c, 'tempo-invoice-missing', 'operator', 'Tempo has no such invoice in this dossier (FACTURE answered 404); check the ledger row'),
  },
  // From here Tempo has the invoice. Settled there, not in the ledger:
  {
    name: "the service's runs settled it",
    applies: (c) => settledButNotInLedger(c) && settlingRun(c) !== undefined,
    verdict: resyncSettlement,
  },
  {
    name: "the service's runs add up to more than the invoice",
    applies: (c) => settledButNotInLedger(c) && c.invoiceTotal !== undefined && c.knownSum !== undefined && c.knownSum > cents(c.invoiceTotal),
    verdict: (c) =>
      say(
        c,
        'settled-in-tempo',
        'operator',
        `Tempo settled it on ${settledOnText(c)} (total ${euros(c.invoiceTotal as number)}) but the service's runs add up to more, ${knownPaymentsText(c)}: a payment synced twice under different ids, or the wrong invoice? Check its runs: tempo-armado-sync status ${c.invoiceNumber}`,
      ),
  },
  {
    name: 'the settling payment never triggered a sync',
    applies: settledButNotInLedger,
    verdict: settlementNeverSynced,
  },
  // Not settled in Tempo:
  {
    name: 'the ledger says paid',
    applies: (c) => !c.tempo.fullyPaid && c.ledgerPaid,
    verdict: (c) =>
      say(
        c,
        'tempo-not-settled',
        'operator',
        `the ledger says Payée (${c.ledger?.paymentDate}) but Tempo's FACTURE says not fully paid (RegleeTotale ≠ OUI): was the payment cancelled in Tempo?`,
      ),
  },
  {
    name: "Armado's bill carries a payment",
    applies: (c) => !c.tempo.fullyPaid && billWithPayment(c) !== undefined,
    verdict: (c) => say(c, 'armado-disagrees', 'operator', `Tempo says partially paid but Armado's ${describeBill(billWithPayment(c) as ArmadoBillFacts)}`),
  },
  {
    name: 'Tempo received more than the service knows',
    applies: (c) => !c.tempo.fullyPaid && c.tempo.paidAmount !== undefined && c.knownSum !== undefined && cents(c.tempo.paidAmount) > c.knownSum,
    verdict: (c) => {
      const paid = c.tempo.paidAmount as number;
      const known = (c.knownSum as number) / 100;
      return say(
        c,
        'payment-missing',
        'operator',
        `Tempo has received ${euros(paid)}, the service knows ${euros(known)}: a partial payment of ${euros(paid - known)} never triggered a sync (its mode and date are unknown; add it to a backfill file)`,
      );
    },
  },
  {
    name: 'partially paid',
    applies: (c) => !c.tempo.fullyPaid,
    verdict: (c) => say(c, 'in-sync', 'none', `partially paid${c.tempo.paidAmount !== undefined ? ` (${euros(c.tempo.paidAmount)} received)` : ''}; waiting for the rest`),
  },
  // Fully paid in Tempo and Payée in the ledger: Armado must carry the ledger's payment.
  {
    name: 'Armado has no bill',
    applies: (c) => c.bills.length === 0,
    verdict: (c) =>
      say(
        c,
        'armado-bill-missing',
        'operator',
        `Armado has no bill with reference ${c.invoiceNumber}; create it, then reconcile again or reset the run ${c.ledger?.workflowId ?? ''}`.trim(),
        c.ledger?.workflowId || undefined,
      ),
  },
  {
    name: 'Armado has several bills',
    applies: (c) => c.bills.length > 1,
    verdict: (c) =>
      say(c, 'armado-bill-ambiguous', 'operator', `Armado has ${c.bills.length} bills with reference ${c.invoiceNumber} (ids ${c.bills.map((b) => b.id).join(', ')}); keep one`),
  },
  {
    name: "the bill does not carry the ledger's payment",
    applies: (c) => !billCarries(onlyBill(c), c.ledgerPaymentType, c.ledger?.paymentDate ?? ''),
    verdict: (c) =>
      say(
        c,
        'armado-disagrees',
        'operator',
        `the ledger shows ${c.ledger?.paymentMode} on ${c.ledger?.paymentDate} (paymentType ${c.ledgerPaymentType ?? '?'}) but Armado's ${describeBill(onlyBill(c))}. ` +
          `Nothing was overwritten (a person may have changed it on purpose); to put the ledger's payment back on the bill: tempo-armado-sync reapply-ledger --invoice ${c.invoiceNumber}`,
        c.ledger?.workflowId || undefined,
      ),
  },
  {
    name: "the ledger lacks the bill's id",
    applies: (c) => !c.ledger?.billId,
    verdict: (c) =>
      say(c, 'bill-id-missing', 'operator', `Armado's bill ${onlyBill(c).id} carries the payment but the ledger's "Bill Armado" cell is empty; type ${onlyBill(c).id} there`),
  },
];

/** When no rule applies: settled everywhere, and Armado's one bill carries the ledger's payment. */
const agrees = (c: InvoiceCase): Verdict => say(c, 'in-sync', 'none', `paid; Armado bill ${onlyBill(c).id} carries the payment`);

/** What one invoice's facts conclude: the first rule that applies, in the order of RULES. */
export function judgeInvoice(facts: InvoiceFacts, hash: (text: string) => string): Verdict {
  const c = invoiceCase(facts, hash);
  return (RULES.find((rule) => rule.applies(c))?.verdict ?? agrees)(c);
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
