// The reconciliation's rules and the backfill reader, without servers: the cases the e2e tests do not build.
import { buildPaymentModeTable } from '../../src/domain/payment-modes';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import {
  addFindings,
  candidateReason,
  dueSweepBuckets,
  emptySummary,
  judgeInvoice,
  MAX_REPORTED_FINDINGS,
  retryCommand,
  type InvoiceFacts,
  type KnownRun,
  type LedgerSnapshotRow,
} from '../../src/domain/reconciliation';
import { BackfillFileError, progressBar, readBackfillFile } from '../../src/operations/backfill';

const hash = (s: string) => `h${s.length}`;
const run = (over: Partial<KnownRun> & { amount?: number; date?: string } = {}): KnownRun => ({
  workflowId: `payment-sync-DEMO-1-${over.date ?? 'x'}`,
  status: 'COMPLETED',
  startedAt: '2024-01-01T00:00:00.000Z',
  input: { invoiceNumber: '1', paymentMode: 'cb', paymentDate: over.date ?? '2024-01-10', tempoStatus: 200, amount: over.amount ?? 100 },
  armadoDate: `${over.date ?? '2024-01-10'}T00:00:00.000000`,
  instant: Date.parse(over.date ?? '2024-01-10') / 1000,
  ...over,
});
const facts = (over: Partial<InvoiceFacts>): InvoiceFacts => ({
  candidate: {
    invoiceNumber: '1',
    reason: 'partially-paid',
    ledger: {
      row: 2,
      invoiceNumber: '1',
      status: 'Partiellement payée',
      paymentMode: 'cb',
      paymentDate: '2024-01-10',
      amount: '100',
      billId: '',
      updatedAt: '2024-01-10T10:00:00.000Z',
      workflowId: 'w',
    },
  },
  tempo: { found: true, fullyPaid: true, settledOn: '20240111', totalAmount: 100, paidAmount: 100 },
  bills: [{ id: '7', paymentType: null, paymentDate: null }],
  runs: [run()],
  ledgerPaymentType: 3,
  ...over,
});

describe('judgeInvoice', () => {
  test('a running sync is left to finish, whatever else disagrees', () => {
    expect(judgeInvoice(facts({ runs: [run({ status: 'RUNNING' })] }), hash).finding).toMatchObject({ kind: 'sync-running', action: 'none' });
  });

  test('settled in Tempo: starts the latest known payment only when the known payments cover the invoice', () => {
    const twoPayments = facts({ runs: [run({ amount: 40, date: '2024-01-12', startedAt: '2024-01-12T00:00:00Z' }), run({ amount: 60, date: '2024-01-10' })] });
    const verdict = judgeInvoice(twoPayments, hash);
    expect(verdict.finding).toMatchObject({ kind: 'settled-in-tempo', action: 'sync-started' });
    expect(verdict.start).toMatchObject({ paymentDate: '2024-01-12', amount: 40, tempoStatus: 200, paymentId: expect.stringMatching(/^reconciled-/) });

    const amountUnknown = facts({ runs: [run({ input: { invoiceNumber: '1', paymentMode: 'cb', paymentDate: '2024-01-10', tempoStatus: 200 } })] });
    const unsure = judgeInvoice(amountUnknown, hash);
    expect(unsure.finding.action).toBe('operator');
    expect(unsure.start).toBeUndefined();
    expect(judgeInvoice(facts({ runs: [run({ amount: 60 })] }), hash)).toMatchObject({ finding: { action: 'operator', detail: expect.stringContaining('a payment of 40.00 €') } });
  });

  test('runs Tempo refused (status ≠ 200) are not payments: they neither count nor make the last run failed', () => {
    const refused = run({
      status: 'FAILED',
      failureType: 'TempoUpdateNotConfirmed',
      startedAt: '2024-02-01T00:00:00Z',
      input: { invoiceNumber: '1', paymentMode: 'cb', paymentDate: '2024-01-20', tempoStatus: 500, amount: 999 },
    });
    expect(judgeInvoice(facts({ runs: [run(), refused] }), hash).finding).toMatchObject({ kind: 'settled-in-tempo', action: 'sync-started' });
  });

  test('paid in the ledger: Armado must carry that payment, to the minute', () => {
    const paid = (bill: InvoiceFacts['bills'][number], billId = '') =>
      judgeInvoice(
        facts({
          candidate: {
            invoiceNumber: '1',
            reason: 'paid-without-bill',
            ledger: {
              row: 2,
              invoiceNumber: '1',
              status: 'Payée',
              paymentMode: 'cb',
              paymentDate: '2024-01-10 09:30',
              amount: '100',
              billId,
              updatedAt: '2024-01-10T10:00:00.000Z',
              workflowId: 'w',
            },
          },
          bills: [bill],
        }),
        hash,
      ).finding;
    expect(paid({ id: '7', paymentType: 3, paymentDate: '2024-01-10T09:30:00.000000' })).toMatchObject({ kind: 'bill-id-missing' });
    expect(paid({ id: '7', paymentType: 3, paymentDate: '2024-01-10T09:30:00.000000' }, '7')).toMatchObject({ kind: 'in-sync' });
    expect(paid({ id: '7', paymentType: 2, paymentDate: '2024-01-10T09:30:00.000000' })).toMatchObject({
      kind: 'armado-disagrees',
      detail: expect.stringContaining('paymentType 2'),
    });
    expect(paid({ id: '7', paymentType: null, paymentDate: null })).toMatchObject({ kind: 'armado-disagrees', detail: expect.stringContaining('carries no payment') });
  });

  test('Tempo not settled while the ledger says Payée, or Armado shows a payment: reported', () => {
    const notSettled = { found: true as const, fullyPaid: false, paidAmount: 100 };
    const ledgerPaid = facts({
      tempo: notSettled,
      candidate: {
        invoiceNumber: '1',
        reason: 'paid-without-bill',
        ledger: {
          row: 2,
          invoiceNumber: '1',
          status: 'Payée',
          paymentMode: 'cb',
          paymentDate: '2024-01-10',
          amount: '100',
          billId: '',
          updatedAt: '2024-01-10T10:00:00.000Z',
          workflowId: 'w',
        },
      },
    });
    expect(judgeInvoice(ledgerPaid, hash).finding.kind).toBe('tempo-not-settled');
    expect(judgeInvoice(facts({ tempo: notSettled, bills: [{ id: '7', paymentType: 3, paymentDate: '2024-01-10T00:00:00.000000' }] }), hash).finding.kind).toBe('armado-disagrees');
  });

  test('refused runs only, while Tempo says settled: reported with the command that syncs that payment', () => {
    const refused = run({
      status: 'FAILED',
      failureType: 'TempoUpdateNotConfirmed',
      input: { invoiceNumber: '1', paymentMode: 'chèque', paymentDate: '2024-01-20', tempoStatus: 502, amount: 75, paymentId: 'P-9' },
    });
    const noRow = { invoiceNumber: '1', reason: 'last-run-failed' as const };
    expect(judgeInvoice(facts({ candidate: noRow, runs: [refused] }), hash).finding).toMatchObject({
      kind: 'settled-in-tempo',
      action: 'operator',
      detail: expect.stringContaining("tempo-armado-sync start --invoice 1 --mode 'chèque' --date 2024-01-20 --tempo-status 200 --amount 75.00 --payment-id P-9 --retry-failed"),
    });
    const notSettled = { found: true as const, fullyPaid: false, paidAmount: 0 };
    expect(judgeInvoice(facts({ candidate: noRow, runs: [refused], tempo: notSettled }), hash).finding).toMatchObject({ kind: 'in-sync' });
  });

  test("the suggested command gives the shell back the run's own values, quotes and spaces included", () => {
    const command = retryCommand({ invoiceNumber: '1', paymentMode: ' Chèque ', paymentDate: '2024-01-20', tempoStatus: 502, paymentId: "O'Brien 1", dossier: 'D 1' });
    const words = execFileSync('sh', ['-c', `printf '%s\\n' ${command.replace(/^tempo-armado-sync /, '')}`], { encoding: 'utf8' })
      .trimEnd()
      .split('\n');
    expect(words).toEqual([
      'start',
      '--invoice',
      '1',
      '--mode',
      ' Chèque ',
      '--date',
      '2024-01-20',
      '--tempo-status',
      '200',
      '--dossier',
      'D 1',
      '--payment-id',
      "O'Brien 1",
      '--retry-failed',
    ]);
  });

  test('the summary counts every finding but lists a bounded number', () => {
    const many = Array.from({ length: MAX_REPORTED_FINDINGS + 5 }, (_, i) => ({
      invoiceNumber: String(i),
      kind: 'payment-missing' as const,
      action: 'operator' as const,
      detail: '',
    }));
    const summary = addFindings(emptySummary('r', 'now', { dryRun: false }), [...many, { invoiceNumber: 'x', kind: 'in-sync', action: 'none', detail: '' }]);
    expect(summary).toMatchObject({ checked: MAX_REPORTED_FINDINGS + 6, inSync: 1, drift: { 'payment-missing': MAX_REPORTED_FINDINGS + 5 }, findingsOmitted: 5 });
    expect(summary.findings).toHaveLength(MAX_REPORTED_FINDINGS);
  });
});

describe('backfill file', () => {
  const options = { defaultDossier: 'DEMO', paymentModes: buildPaymentModeTable() };

  test('CSV with a BOM, ";" and decimal commas, as a French spreadsheet exports it; tempoStatus defaults to 200', () => {
    const lines = readBackfillFile('x.csv', '\uFEFFFacture;Mode;Date;Montant;Payment_ID\r\n20664;Virement;2024-01-15;795,60;T-1\r\n', options);
    expect(lines).toEqual([
      {
        line: 2,
        input: { invoiceNumber: '20664', paymentMode: 'Virement', paymentDate: '2024-01-15', amount: 795.6, paymentId: 'T-1', tempoStatus: 200 },
        workflowId: 'payment-sync-DEMO-20664-T-1',
        duplicateOf: undefined,
      },
    ]);
  });

  test('quoted CSV fields keep their commas; line numbers count physical lines', () => {
    const lines = readBackfillFile('x.csv', 'invoice,mode,date,amount\n"1","cb","2024-01-15","12.5"\n\n2,"cb, carte",2024-01-15,3\n', options);
    expect(lines.map((l) => l.line)).toEqual([2, 4]);
    expect(lines[1]?.problems?.[0]).toMatchObject({ field: 'paymentMode' });
  });

  test('JSON lines: a broken line is reported by number, the others read', () => {
    const lines = readBackfillFile('x.jsonl', '{"invoiceNumber":"1","paymentMode":"cb","paymentDate":"2024-01-15"}\n{oops\n[1]\n', options);
    expect(lines.map((l) => [l.line, l.problems?.[0]?.message])).toEqual([
      [1, undefined],
      [2, 'is not valid JSON'],
      [3, 'must be a JSON object'],
    ]);
  });

  test('an empty file is refused', () => {
    expect(() => readBackfillFile('x.csv', 'invoice,mode,date\n', options)).toThrow(BackfillFileError);
  });

  test('progress bar: done/total, rate, ETA', () => {
    expect(progressBar({ done: 5, total: 20, ratePerSecond: 2.5, etaSeconds: 66 }, 8)).toBe('[##------]  5/20  2.5/s  ETA 1m06s');
  });
});

test('an invoice known only by a run Tempo refused is not drift', () => {
  const refused = run({ status: 'FAILED', failureType: 'TempoUpdateNotConfirmed', input: { invoiceNumber: '1', paymentMode: 'cb', paymentDate: '2024-01-20', tempoStatus: 404 } });
  const verdict = judgeInvoice(facts({ candidate: { invoiceNumber: '1', reason: 'last-run-failed' }, tempo: { found: false }, runs: [refused] }), hash);
  expect(verdict.finding).toMatchObject({ kind: 'in-sync', action: 'none', detail: expect.stringContaining('TempoUpdateNotConfirmed') });
});

test('with no run left to read (retention), amounts are not compared: nothing is reported missing or started', () => {
  const noRuns = facts({ runs: [], tempo: { found: true, fullyPaid: false, paidAmount: 50 } });
  expect(judgeInvoice(noRuns, hash).finding.kind).toBe('in-sync');
  const settledNoRuns = judgeInvoice(facts({ runs: [] }), hash);
  expect(settledNoRuns.finding).toMatchObject({ kind: 'settled-in-tempo', action: 'operator', detail: expect.stringContaining('retention') });
  expect(settledNoRuns.start).toBeUndefined();
});

test("the reconciliation's own re-sync is not counted again, and runs adding up to more than the invoice are reported, not started", () => {
  const settling = run({ amount: 100, input: { invoiceNumber: '1', paymentMode: 'cb', paymentDate: '2024-01-10', tempoStatus: 200, amount: 100 } });
  const resync = run({
    workflowId: 'payment-sync-DEMO-1-reconciled-abc',
    status: 'FAILED',
    failureType: 'ArmadoBillNotFound',
    startedAt: '2023-12-01T00:00:00Z',
    input: { ...settling.input!, paymentId: 'reconciled-abc' },
  });
  expect(judgeInvoice(facts({ runs: [settling, resync] }), hash).finding).toMatchObject({ kind: 'settled-in-tempo', action: 'sync-started' });
  const twice = judgeInvoice(facts({ runs: [settling, run({ workflowId: 'other', amount: 100 })] }), hash);
  expect(twice.finding).toMatchObject({ kind: 'settled-in-tempo', action: 'operator', detail: expect.stringContaining('add up to more') });
  expect(twice.start).toBeUndefined();
});

describe('settled rows: recent ones every night, the rest in a rotation', () => {
  const row = (over: Partial<LedgerSnapshotRow>): LedgerSnapshotRow => ({
    row: 2,
    invoiceNumber: '1',
    status: 'Payée',
    paymentMode: 'cb',
    paymentDate: '2024-01-10',
    amount: '100',
    billId: '7',
    updatedAt: '2024-01-10T10:00:00.000Z',
    workflowId: 'w',
    ...over,
  });
  const plan = { recentSince: Date.parse('2024-01-10T00:00:00Z'), buckets: 30, dueBuckets: [4] };

  test('a row written since the previous reconciliation is recent; an older one only on its slice; unfinished rows always', () => {
    expect(candidateReason(row({}), plan, () => 0)).toBe('settled-recent');
    expect(candidateReason(row({ updatedAt: '2023-12-01T00:00:00Z' }), plan, () => 0)).toBeUndefined();
    expect(candidateReason(row({ updatedAt: '2023-12-01T00:00:00Z' }), plan, () => 4)).toBe('settled-sweep');
    expect(candidateReason(row({ updatedAt: 'hier' }), plan, () => 0)).toBe('settled-recent');
    expect(candidateReason(row({ status: 'Partiellement payée', updatedAt: '2023-12-01T00:00:00Z' }), plan, () => 0)).toBe('partially-paid');
    expect(candidateReason(row({ billId: '' }), plan, () => 0)).toBe('paid-without-bill');
    // A run started before the sweep existed passes no plan: settled rows are left alone, as then.
    expect(candidateReason(row({}))).toBeUndefined();
  });

  test('whatever the days the reconciliation runs on, every slice is checked within one sweep of the day it falls due', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 80 }), (buckets, days) => {
        const runs = [...days].sort((a, b) => a - b);
        const covered = new Map<number, number[]>(); // bucket -> days it was checked
        runs.forEach((day, i) => {
          for (const b of dueSweepBuckets(day, i === 0 ? undefined : runs[i - 1], buckets)) covered.set(b, [...(covered.get(b) ?? []), day]);
        });
        // Every day d after the first run falls due in the slice d mod buckets, and the first run on or after d checks it.
        for (let d = (runs[0] as number) + 1; d <= (runs.at(-1) as number); d++) {
          const checker = runs.find((r) => r >= d) as number;
          expect(covered.get(((d % buckets) + buckets) % buckets)).toContain(checker);
        }
        // Never more than every slice in one night.
        for (let i = 1; i < runs.length; i++) expect(dueSweepBuckets(runs[i] as number, runs[i - 1], buckets).length).toBeLessThanOrEqual(buckets);
      }),
      { seed: 18, numRuns: 100 },
    );
  });
});
