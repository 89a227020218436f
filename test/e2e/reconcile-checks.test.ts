// What the reconciliation and the backfill promise beyond unfinished rows (issue 18), on a real dev server with
// the sandboxes and the built CLI as a process: settled rows are checked against Armado, an invoice an API
// refuses is a finding (not a failed night), and a payment whose trigger was refused is never "already done".
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding, ReconcileSummary } from '../../src/domain/reconciliation';
import { reconcileNow } from '../../src/operations/reconcile';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { allPaymentRunsClosed, startE2E, type E2E } from '../helpers/e2e';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'reconcile-checks-'));
let rig: E2E;
let env: Record<string, string>;

beforeAll(async () => {
  rig = await startE2E({ RECONCILE_RATE: '50' });
  env = { PATH: process.env.PATH as string, ...rig.sandboxes.env, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS as string, TEMPORAL_TASK_QUEUE: rig.taskQueue };
});
afterAll(async () => rig?.stop());
afterEach(() => {
  rig.sandboxes.tempo.server.clearFaults();
  rig.sandboxes.armado.server.clearFaults();
});

let nextInvoice = 76000;
function invoice(total: number, settled = false): string {
  const id = String(nextInvoice++);
  rig.sandboxes.tempo.addInvoice(id, total);
  if (settled) Object.assign(rig.sandboxes.tempo.invoice(id)!, { RegleeTotale: 'OUI', DateReglementTotal: '20240610', MontantReglementPartielTotal: total.toFixed(2) });
  rig.sandboxes.armado.addBill(id, total);
  return id;
}
const bill = (id: string) => rig.sandboxes.armado.billsWithReference(id)[0]!;
const ledgerRow = (id: string) => rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).find((r) => r[0] === id);
const finding = (summary: ReconcileSummary, id: string): Finding | undefined => summary.findings.find((f) => f.invoiceNumber === id);

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, cwd: '/' }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** The command a finding suggests, as an operator pastes it: `tempo-armado-sync …` up to the end of the sentence or a parenthesis. */
function suggested(f: Finding | undefined): string[] {
  const m = /tempo-armado-sync ((?:[^\s()'"]+|'[^']*'| )+)/.exec(f?.detail ?? '');
  if (!m) throw new Error(`no command in: ${f?.detail}`);
  return (m[1] as string)
    .trim()
    .match(/'[^']*'|\S+/g)!
    .map((w) => w.replace(/^'|'$/g, ''));
}

test('a settled row whose bill a person changed afterwards is found (armado-disagrees, both stores named); its command re-applies the ledger', async () => {
  const id = invoice(120, true);
  const started = await rig.start({ invoiceNumber: id, amount: 120, paymentMode: 'virement', paymentDate: '2024-06-10T14:00:00+02:00' });
  await started.handle.result();
  expect(ledgerRow(id)?.slice(0, 6)).toEqual([id, 'Payée', 'virement', '2024-06-10 14:00', '120', String(bill(id).id)]);
  // Somebody edits the bill in Armado's UI.
  Object.assign(bill(id), { paymentType: 1, paymentDate: '2024-06-12T09:00:00.000000' });

  await allPaymentRunsClosed(rig.client, rig.taskQueue);
  const night = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: false });
  const f = finding(night, id);
  expect(f).toMatchObject({ kind: 'armado-disagrees', action: 'operator' });
  expect(f?.detail).toContain('virement on 2024-06-10 14:00');
  expect(f?.detail).toContain('paymentType 1 on 2024-06-12T09:00:00.000000');
  // It reports; it does not overwrite Armado.
  expect(bill(id)).toMatchObject({ paymentType: 1, paymentDate: '2024-06-12T09:00:00.000000' });

  const pasted = await cli(suggested(f));
  expect(pasted).toMatchObject({ code: 0 });
  expect(bill(id)).toMatchObject({ paymentType: 2, paymentDate: '2024-06-10T14:00:00.000000' });
  const again = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: true, invoice: id });
  expect(finding(again, id)).toMatchObject({ kind: 'in-sync' });

  // While a run of the invoice is open (its bill search hangs), reapplying is refused: that run writes the bill itself.
  rig.sandboxes.armado.server.injectFault({ method: 'GET', path: '/v1/bill', hang: true });
  const running = await rig.start({ invoiceNumber: id, amount: 120, paymentMode: 'cb', paymentDate: '2024-06-30', paymentId: 'later' });
  const refused = await cli(suggested(f));
  expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining(`a payment sync of invoice ${id} is still running (${running.workflowId})`) });
  await running.handle.result();
  expect(bill(id)).toMatchObject({ paymentType: 3, paymentDate: '2024-06-30T00:00:00.000000' });
});

test('one invoice whose FACTURE answers 400 is a check-failed finding with its cause; the others are still reconciled', async () => {
  const refused = invoice(50);
  const other = invoice(80);
  for (const id of [refused, other]) await (await rig.start({ invoiceNumber: id, amount: 10, paymentMode: 'cb', paymentDate: '2024-06-01' })).handle.result();
  // The second was settled by hand in Tempo, with its whole amount known: the reconciliation syncs it.
  Object.assign(rig.sandboxes.tempo.invoice(other)!, { MontantTTC: '10.00', RegleeTotale: 'OUI', DateReglementTotal: '20240602' });
  rig.sandboxes.tempo.server.injectFault({ path: '/API/Tempo/FACTURE', query: `ID=${refused}`, status: 400, body: { message: 'Requête invalide' }, times: 1_000 });

  await allPaymentRunsClosed(rig.client, rig.taskQueue);
  const night = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: false });
  expect(finding(night, refused)).toMatchObject({ kind: 'check-failed', action: 'operator', detail: expect.stringContaining('400') });
  expect(finding(night, other)).toMatchObject({ kind: 'settled-in-tempo', action: 'sync-started' });
  expect(night.drift['check-failed']).toBe(1);
});

test('a payment whose trigger was refused is reported once Tempo is settled, and its suggested command syncs it', async () => {
  const id = invoice(75, true);
  const refused = await rig.start({ invoiceNumber: id, amount: 75, paymentMode: 'cheque', paymentDate: '2024-06-10', tempoStatus: 502 });
  await expect(refused.handle.result()).rejects.toThrow();

  await allPaymentRunsClosed(rig.client, rig.taskQueue);
  const night = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: true });
  const f = finding(night, id);
  expect(f).toMatchObject({ kind: 'settled-in-tempo', action: 'operator', detail: expect.stringContaining('TempoUpdateNotConfirmed') });
  const pasted = await cli([...suggested(f), '--wait']);
  expect(pasted).toMatchObject({ code: 0 });
  expect(ledgerRow(id)?.slice(0, 4)).toEqual([id, 'Payée', 'cheque', '2024-06-10']);
  expect(bill(id)).toMatchObject({ paymentType: 1, paymentDate: '2024-06-10T00:00:00.000000' });
  // A payment that did sync is still never started twice, whatever the flag.
  expect(await cli(suggested(f))).toMatchObject({ code: 0, stdout: expect.stringContaining('already started') });
});

test('a settlement whose payment never triggered: the command it suggests, pasted, names the missing mode; with the mode it syncs', async () => {
  const id = invoice(90);
  await (await rig.start({ invoiceNumber: id, amount: 40, paymentMode: 'cb', paymentDate: '2024-06-01' })).handle.result();
  Object.assign(rig.sandboxes.tempo.invoice(id)!, { RegleeTotale: 'OUI', DateReglementTotal: '20240605', MontantReglementPartielTotal: '90.00' });

  await allPaymentRunsClosed(rig.client, rig.taskQueue);
  const f = finding(await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: true, invoice: id }), id);
  expect(f).toMatchObject({ kind: 'settled-in-tempo', action: 'operator' });
  const asIs = await cli(suggested(f));
  expect(asIs.code).toBe(2);
  expect(asIs.stderr).toMatch(/paymentMode: "MODE" is not a known payment mode; accepted modes: .*virement/);
  const filled = await cli([...suggested(f).map((w) => (w === 'MODE' ? 'virement' : w)), '--wait']);
  expect(filled).toMatchObject({ code: 0 });
  expect(ledgerRow(id)?.slice(0, 5)).toEqual([id, 'Payée', 'virement', '2024-06-05', '50']);
  expect(bill(id)).toMatchObject({ paymentType: 2, paymentDate: '2024-06-05T00:00:00.000000' });
});

test('backfill: a refused payment is "failed before", not "already done"; --retry-failed syncs it, and a synced one stays done', async () => {
  const id = invoice(60, true);
  const refused = await rig.start({ invoiceNumber: id, amount: 60, paymentMode: 'virement', paymentDate: '2024-06-10', tempoStatus: 502, paymentId: 'BF-1' });
  await expect(refused.handle.result()).rejects.toThrow();
  const path = join(dir, 'refused.csv');
  writeFileSync(path, `invoice,mode,date,amount,payment id\n${id},virement,2024-06-10,60,BF-1\n`);

  const first = await cli(['backfill', path, '--json']);
  expect(first.code).toBe(1);
  const report = JSON.parse(first.stdout);
  expect(report).toMatchObject({ started: 0, alreadyDone: 0, failedBefore: 1 });
  expect(report.lines[0]).toMatchObject({ outcome: 'failed-before', why: expect.stringContaining('TempoUpdateNotConfirmed') });
  expect(ledgerRow(id)).toBeUndefined();

  const retried = await cli(['backfill', path, '--retry-failed', '--json']);
  expect(JSON.parse(retried.stdout)).toMatchObject({ started: 1, failedBefore: 0 });
  await rig.client.workflow.getHandle(`payment-sync-DEMO-${id}-BF-1`).result();
  expect(ledgerRow(id)?.slice(0, 2)).toEqual([id, 'Payée']);
  expect(bill(id)).toMatchObject({ paymentType: 2 });

  const third = await cli(['backfill', path, '--retry-failed', '--json']);
  expect(JSON.parse(third.stdout)).toMatchObject({ started: 0, alreadyDone: 1, failedBefore: 0 });
});
