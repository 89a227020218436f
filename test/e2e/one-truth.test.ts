// One truth per invoice (DESIGN §1): several payments of one invoice, however their runs interleave on two worker
// processes, leave Armado's bill and the ledger row on the same, latest payment; every run completes.
import { startPaymentSync, type StartedPaymentSync } from '../../src/client/payment-sync-client';
import type { PaymentSyncResult } from '../../src/domain/shapes';
import { eventually } from '../helpers/eventually';
import { startWorkerProcess, useProcessRig } from '../helpers/worker-process';

const rig = useProcessRig('one-truth');
beforeAll(async () => {
  // Two workers: the runs of one invoice land on both.
  await Promise.all([startWorkerProcess(rig.sandboxes, rig.taskQueue), startWorkerProcess(rig.sandboxes, rig.taskQueue)]);
}, 120_000);
afterEach(() => {
  rig.sandboxes.armado.server.latencyMs = 0;
});

let nextInvoice = 77000;
function settledInvoice(): string {
  const id = String(nextInvoice++);
  rig.sandboxes.tempo.addInvoice(id, 100);
  Object.assign(rig.sandboxes.tempo.invoice(id)!, { RegleeTotale: 'OUI', DateReglementTotal: '20240620' });
  rig.sandboxes.armado.addBill(id);
  return id;
}

interface Payment {
  mode: string;
  date: string;
}
const start = (invoice: string, p: Payment, key: string): Promise<StartedPaymentSync> =>
  startPaymentSync(
    rig.client,
    { invoiceNumber: invoice, paymentMode: p.mode, paymentDate: p.date, tempoStatus: 200, amount: 10, paymentId: key },
    { taskQueue: rig.taskQueue, defaultDossier: rig.sandboxes.env.TEMPO_DOSSIER as string },
  );
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What each store shows for the invoice: the ledger's mode and date, Armado's type and date. */
function stores(invoice: string) {
  const row = rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).filter((r) => r[0] === invoice);
  const bill = rig.sandboxes.armado.billsWithReference(invoice)[0]!;
  return { rows: row.length, ledger: row[0]?.slice(2, 4), armado: [bill.paymentType, bill.paymentDate] };
}

test('two payments overlapping at a slow Armado, the later-dated started first: both stores end on the later one', async () => {
  rig.sandboxes.armado.server.latencyMs = 500;
  const invoice = settledInvoice();
  const later = await start(invoice, { mode: 'virement', date: '2024-06-20' }, 'later');
  await pause(200);
  const earlier = await start(invoice, { mode: 'cheque', date: '2024-06-10' }, 'earlier');
  const results: PaymentSyncResult[] = await Promise.all([later.handle.result(), earlier.handle.result()]);
  process.stdout.write(`one truth: 2 overlapping payments at 500 ms Armado latency: PUTs ${rig.sandboxes.armado.putsFor(invoice)}, the earlier run ${results[1]!.armado.status}\n`);

  expect(results.map((r) => r.outcome)).toEqual(['synced', 'synced']);
  expect(stores(invoice)).toEqual({ rows: 1, ledger: ['virement', '2024-06-20'], armado: [2, '2024-06-20T00:00:00.000000'] });
  // The earlier payment's run sent nothing over the later one.
  expect(results[1]!.armado).toMatchObject({ status: 'kept-later-payment' });
});

test('the older payment is the row first and its PUT is slow: the later one is sent after that run is done, so it lands last', async () => {
  rig.sandboxes.armado.server.latencyMs = 100;
  const invoice = settledInvoice();
  const billId = rig.sandboxes.armado.billsWithReference(invoice)[0]!.id;
  // The first PUT on the bill (the older payment's) takes 3 s to land.
  rig.sandboxes.armado.server.injectFault({ method: 'PUT', path: `/v1/bill/${billId}`, delayMs: 3_000 });
  const earlier = await start(invoice, { mode: 'cheque', date: '2024-06-10' }, 'earlier');
  await eventually(async () => stores(invoice).rows === 1, 'the older payment in the ledger');
  const later = await start(invoice, { mode: 'virement', date: '2024-06-20' }, 'later');
  const results = await Promise.all([earlier.handle.result(), later.handle.result()]);

  expect(results.map((r) => r.armado.status)).toEqual(['updated', 'updated']);
  expect(rig.sandboxes.armado.puts.filter((p) => p.billId === billId).map((p) => p.paymentType)).toEqual([1, 2]);
  expect(stores(invoice)).toEqual({ rows: 1, ledger: ['virement', '2024-06-20'], armado: [2, '2024-06-20T00:00:00.000000'] });
});

test('a chain of three where the middle run closes without sending (terminated): the last still waits for the first', async () => {
  const invoice = settledInvoice();
  const billId = rig.sandboxes.armado.billsWithReference(invoice)[0]!.id;
  const rowShows = (mode: string) => eventually(async () => stores(invoice).ledger?.[0] === mode, `the ledger row on ${mode}`);
  // The first payment's PUT takes 5 s to land.
  rig.sandboxes.armado.server.injectFault({ method: 'PUT', path: `/v1/bill/${billId}`, delayMs: 5_000 });
  const first = await start(invoice, { mode: 'cheque', date: '2024-06-10' }, 'first');
  await rowShows('cheque');
  const middle = await start(invoice, { mode: 'cb', date: '2024-06-15' }, 'middle');
  await rowShows('cb');
  await middle.handle.terminate('test: the middle run ends without writing Armado');
  const last = await start(invoice, { mode: 'virement', date: '2024-06-20' }, 'last');
  await Promise.all([first.handle.result(), last.handle.result()]);

  expect(rig.sandboxes.armado.puts.filter((p) => p.billId === billId).map((p) => p.paymentType)).toEqual([1, 2]);
  expect(stores(invoice)).toEqual({ rows: 1, ledger: ['virement', '2024-06-20'], armado: [2, '2024-06-20T00:00:00.000000'] });
});

test.each([
  ['at once', 0],
  ['a second apart', 1_000],
])('five payments of one invoice started %s in shuffled order: every run completes, both stores show the last', async (how, gapMs) => {
  rig.sandboxes.armado.server.latencyMs = 150;
  const invoice = settledInvoice();
  // In payment order: a date-only payment is midnight in Europe/Paris, before a timed one that day.
  const payments: Payment[] = [
    { mode: 'cb', date: '2024-05-01' },
    { mode: 'especes', date: '2024-05-01T00:30:00+02:00' },
    { mode: 'cheque', date: '2024-05-01T09:15:10+02:00' },
    { mode: 'virement', date: '2024-05-01T09:15:40+02:00' },
    { mode: 'prelevement', date: '2024-05-02T08:00:00+02:00' },
  ];
  const shuffled = [3, 0, 4, 2, 1];
  const began = Date.now();
  // At once, they meet the ledger writer in one batch; a second apart, in different batches (each later one replacing the row).
  const runs: StartedPaymentSync[] = [];
  for (const i of shuffled) {
    runs.push(await start(invoice, payments[i] as Payment, `p${i}`));
    await pause(gapMs);
  }
  const results = await Promise.all(runs.map((r) => r.handle.result()));
  const statuses = results.map((r) => r.armado.status);
  process.stdout.write(
    `one truth: 5 payments of one invoice started ${how} on 2 workers in ${((Date.now() - began) / 1000).toFixed(1)} s; Armado ${statuses.filter((s) => s === 'updated').length} updated, ` +
      `${statuses.filter((s) => s === 'kept-later-payment').length} kept a later payment, ${statuses.filter((s) => s === 'already-up-to-date').length} already up to date\n`,
  );

  expect(results.every((r) => r.outcome === 'synced')).toBe(true);
  expect(stores(invoice)).toEqual({ rows: 1, ledger: ['prelevement', '2024-05-02 08:00'], armado: [5, '2024-05-02T08:00:00.000000'] });
  // Only the last payment's run may report the bill updated last; the PUTs, in arrival order, never go backwards.
  const puts = rig.sandboxes.armado.puts.filter((p) => p.billId === rig.sandboxes.armado.billsWithReference(invoice)[0]!.id).map((p) => p.paymentDate);
  expect(puts.at(-1)).toBe('2024-05-02T08:00:00.000000');
  expect([...puts].sort()).toEqual(puts);
});

test.each([
  ['date-only then timed the same day', { mode: 'cheque', date: '2024-03-01' }, { mode: 'virement', date: '2024-03-01T09:00:00+01:00' }],
  ['timed then date-only the same day', { mode: 'virement', date: '2024-03-01T09:00:00+01:00' }, { mode: 'cheque', date: '2024-03-01' }],
  ['two payments in the same minute, earlier second first', { mode: 'cheque', date: '2024-03-01T10:30:10+01:00' }, { mode: 'virement', date: '2024-03-01T10:30:50+01:00' }],
  ['two payments in the same minute, later second first', { mode: 'virement', date: '2024-03-01T10:30:50+01:00' }, { mode: 'cheque', date: '2024-03-01T10:30:10+01:00' }],
  // The clocks go back at 03:00 CEST on 2024-10-27: 02:30+01:00 is an hour after 02:30+02:00.
  ['the hour that happens twice, second occurrence first', { mode: 'virement', date: '2024-10-27T02:30:00+01:00' }, { mode: 'cheque', date: '2024-10-27T02:30:00+02:00' }],
  ['the hour that happens twice, first occurrence first', { mode: 'cheque', date: '2024-10-27T02:30:00+02:00' }, { mode: 'virement', date: '2024-10-27T02:30:00+01:00' }],
])('%s, one after the other: both stores show the same (later) payment', async (_, first, second) => {
  const invoice = settledInvoice();
  await (await start(invoice, first, 'a')).handle.result();
  await (await start(invoice, second, 'b')).handle.result();
  const shown = stores(invoice);
  // Whichever came second, the virement is the later payment of each pair.
  expect(shown.ledger?.[0]).toBe('virement');
  expect(shown.armado[0]).toBe(2);
});
