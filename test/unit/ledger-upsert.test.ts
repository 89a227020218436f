// The ledger's keyed upsert against the Google sandbox over real HTTP: people edit the sheet at the worst
// moment (between the writer's read and its write) and no row lands on another invoice's row or is duplicated.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SheetsClient } from '../../src/apis/sheets';
import type { LedgerRow } from '../../src/domain/shapes';
import { upsertLedgerRows } from '../../src/ledger/keyed-upsert';
import { GoogleSandbox } from '../../dev/sandbox/google';

const SHEET = 'led';
const TAB = 'Paiements';
let google: GoogleSandbox;
let sheets: SheetsClient;
let counter = 0;
let id: string;

beforeAll(async () => {
  google = new GoogleSandbox();
  await google.server.start();
  const keyFile = google.writeServiceAccountKey(mkdtempSync(join(tmpdir(), 'ledger-upsert-')));
  sheets = new SheetsClient({ baseUrl: google.baseUrl, tokenUrl: google.tokenUrl, credentialsFile: keyFile, timeoutMs: 5_000 });
});
afterAll(async () => google?.server.stop());
beforeEach(() => {
  id = `${SHEET}-${++counter}`;
  google.createSpreadsheet(id);
  google.beforeWrite = undefined;
});

const row = (invoiceNumber: string, over: Partial<LedgerRow> = {}): LedgerRow => ({
  invoiceNumber,
  status: 'Payée',
  paymentMode: 'virement',
  paymentDate: '2024-01-15 10:30',
  amount: 10,
  workflowId: `wf-${invoiceNumber}`,
  ...over,
});

/** Upserts like the writer's activity, retrying what it says to retry (Temporal's job in production). */
async function upsert(rows: LedgerRow[]) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await upsertLedgerRows(sheets, { spreadsheetId: id, sheetName: TAB, rows, now: new Date('2024-02-01T00:00:00Z'), timeZone: 'Europe/Paris' });
    } catch (err) {
      if ((err as { type?: string }).type !== 'LedgerChangedDuringWrite' || attempt >= 5) throw err;
    }
  }
}

const table = () => google.rows(id, TAB);
const rowsOf = (invoice: string) => table().filter((r) => r[0] === invoice);

/** Every invoice appears once, with its own run's values: nothing overwritten, nothing duplicated. */
function expectEachOnce(invoices: string[]) {
  for (const invoice of invoices) {
    expect(rowsOf(invoice)).toHaveLength(1);
    expect(rowsOf(invoice)[0]![7]).toBe(`wf-${invoice}`);
  }
}

test('appends with the header, then updates in place; each row carries its key', async () => {
  const first = await upsert([row('100'), row('101')]);
  expect(first.results).toEqual({ '100': { status: 'appended', row: 2 }, '101': { status: 'appended', row: 3 } });
  expect(table()[0]).toEqual(['Facture', 'Statut', 'Mode', 'Date paiement', 'Montant', 'Bill Armado', 'Mis à jour', 'Workflow']);
  const second = await upsert([row('101', { status: 'Payée', armadoBillId: '77' })]);
  expect(second.results['101']).toEqual({ status: 'updated', row: 3 });
  expect(google.rowMetadata(id, TAB).map((m) => m.value)).toEqual(['100', '101']);
  expect(rowsOf('101')[0]![5]).toBe('77');
});

test('a write without the bill id never erases the bill id recorded before', async () => {
  await upsert([row('110', { armadoBillId: '4242' })]);
  await upsert([row('110', { paymentDate: '2024-02-01 09:00', workflowId: 'wf-110' })]);
  expect(rowsOf('110')[0]).toEqual(['110', 'Payée', 'virement', '2024-02-01 09:00', '10', '4242', '2024-02-01T00:00:00.000Z', 'wf-110']);
});

test.each([
  ['a sort by invoice, descending', () => google.sortRows(id, TAB, 0, 'DESCENDING')],
  ['a sort by date, ascending', () => google.sortRows(id, TAB, 3, 'ASCENDING')],
  ['rows inserted above', () => google.insertRows(id, TAB, 2, 3)],
  ['a row deleted above', () => google.deleteRows(id, TAB, 2, 1)],
  ['a filter set and a row typed in at the bottom', () => (google.setBasicFilter(id, TAB), google.typeRow(id, TAB, table().length + 1, ['999', 'note à la main']))],
])('%s between the read and the write: every row lands on its own invoice', async (_name, edit) => {
  await upsert(['120', '121', '122', '123'].map((n, i) => row(n, { paymentDate: `2024-01-1${i} 10:00` })));
  let edited = false;
  google.beforeWrite = () => {
    if (!edited) edit();
    edited = true;
  };
  await upsert([row('121', { status: 'Payée', armadoBillId: '5' }), row('123', { armadoBillId: '6' }), row('124'), row('125')]);
  expect(edited).toBe(true);
  const survivors = ['120', '121', '122', '123', '124', '125'].filter((n) => table().some((r) => r[0] === n));
  // Only a row a person deleted may be missing, and it is never one the batch wrote.
  expect(survivors).toEqual(expect.arrayContaining(['121', '123', '124', '125']));
  expectEachOnce(survivors);
  expect(rowsOf('121')[0]![5]).toBe('5');
  expect(rowsOf('123')[0]![5]).toBe('6');
  if (table().some((r) => r[0] === '999')) expect(table().find((r) => r[0] === '999')).toEqual(['999', 'note à la main']);
});

test('a keyed row a person deletes during the write is appended again on the retry, not written elsewhere', async () => {
  await upsert([row('130'), row('131'), row('132')]);
  let deleted = false;
  google.beforeWrite = (kind) => {
    if (!deleted && kind === 'valuesByDataFilter') {
      google.deleteRows(id, TAB, 3, 1); // row of 131
      deleted = true;
    }
  };
  await upsert([row('131', { armadoBillId: '9' })]);
  expectEachOnce(['130', '131', '132']);
  expect(rowsOf('131')[0]![5]).toBe('9');
});

test('a row keyed by hand in column A (no metadata: an older version wrote it) is adopted, not duplicated', async () => {
  google.typeRow(id, TAB, 1, ['Facture', 'Statut', 'Mode', 'Date paiement', 'Montant', 'Bill Armado', 'Mis à jour', 'Workflow']);
  google.typeRow(id, TAB, 2, ['140', 'Partiellement payée', 'cheque', '2024-01-01', 5, '31', 'x', 'wf-old']);
  google.typeRow(id, TAB, 3, ['141', 'Payée', 'cheque', '2024-01-01', 5, '', 'x', 'wf-141']);
  let sorted = false;
  google.beforeWrite = () => {
    if (!sorted) google.sortRows(id, TAB, 0, 'DESCENDING'); // the key lands on the wrong row: found and fixed
    sorted = true;
  };
  await upsert([row('140', { paymentDate: '2024-01-15 10:30' })]);
  expect(rowsOf('140')).toEqual([['140', 'Payée', 'virement', '2024-01-15 10:30', '10', '31', '2024-02-01T00:00:00.000Z', 'wf-140']]);
  expect(rowsOf('141')[0]![7]).toBe('wf-141');
  expect(google.rowMetadata(id, TAB).map((m) => [table()[m.row - 1]![0], m.value])).toEqual([['140', '140']]);
});

test('latest payment wins, in the one order: instant, then settling after partial, then workflow id', async () => {
  await upsert([row('150', { paymentDate: '2024-01-15 10:30', workflowId: 'p2', paymentMode: 'virement' })]);
  const late = await upsert([row('150', { paymentDate: '2024-01-10', status: 'Partiellement payée', workflowId: 'p1', paymentMode: 'cheque' })]);
  expect(late.results['150']!.status).toBe('kept-later-payment');
  // The same instant: the workflow id decides, the same way on every worker and in Armado.
  const tieBefore = await upsert([row('150', { paymentDate: '2024-01-15 10:30', workflowId: 'p0', paymentMode: 'cb' })]);
  expect(tieBefore.results['150']!.status).toBe('kept-later-payment');
  expect(rowsOf('150')[0]!.slice(1, 4)).toEqual(['Payée', 'virement', '2024-01-15 10:30']);
  const tieAfter = await upsert([row('150', { paymentDate: '2024-01-15 10:30', workflowId: 'p3', paymentMode: 'cb' })]);
  expect(tieAfter.results['150']!.status).toBe('updated');
  expect(rowsOf('150')[0]!.slice(1, 4)).toEqual(['Payée', 'cb', '2024-01-15 10:30']);

  await upsert([row('151', { paymentDate: '2024-01-15', status: 'Partiellement payée', workflowId: 'q2' })]);
  await upsert([row('151', { paymentDate: '2024-01-15', status: 'Payée', workflowId: 'q1' })]);
  expect(rowsOf('151')[0]![1]).toBe('Payée'); // same instant: the settling payment comes after the partial one
  // A date alone is midnight: a settling payment of that day comes before a partial one at 09:00.
  await upsert([row('153', { paymentDate: '2024-01-15 09:00', status: 'Partiellement payée', workflowId: 'r1' })]);
  const midnight = await upsert([row('153', { paymentDate: '2024-01-15', status: 'Payée', workflowId: 'r2' })]);
  expect(midnight.results['153']!.status).toBe('kept-later-payment');
  // Seconds count, and so does the hour the clocks go back (02:30 +01:00 is an hour after 02:30 +02:00).
  await upsert([row('154', { paymentDate: '2024-01-15 10:30:50', workflowId: 's1', paymentMode: 'virement' })]);
  expect((await upsert([row('154', { paymentDate: '2024-01-15 10:30:10', workflowId: 's2' })])).results['154']!.status).toBe('kept-later-payment');
  await upsert([row('155', { paymentDate: '2024-10-27 02:30 +01:00', workflowId: 't1', paymentMode: 'virement' })]);
  expect((await upsert([row('155', { paymentDate: '2024-10-27 02:30 +02:00', workflowId: 't2' })])).results['155']!.status).toBe('kept-later-payment');
  // In one batch, the later payment is the one written, whatever the order of arrival.
  const batch = await upsert([row('152', { paymentDate: '2024-03-01', workflowId: 'late' }), row('152', { paymentDate: '2024-02-01', workflowId: 'early' })]);
  expect(batch.chosen['152']).toBe('late');
  expect(rowsOf('152')[0]![7]).toBe('late');
});

test('a settled row replaced by another settled payment names the run it displaced (Armado is written after it)', async () => {
  await upsert([row('156', { paymentDate: '2024-01-10', workflowId: 'first' })]);
  const second = await upsert([row('156', { paymentDate: '2024-01-20', workflowId: 'second' })]);
  expect(second.displaced).toEqual({ '156': 'first' });
  // The same run again (its bill id filled in) displaces nobody; neither does a first row.
  expect((await upsert([row('156', { paymentDate: '2024-01-20', workflowId: 'second', armadoBillId: '9' })])).displaced).toEqual({});
  expect((await upsert([row('157')])).displaced).toEqual({});
});

test('an expired or revoked access token gets one fresh token before the write counts as refused', async () => {
  await upsert([row('160')]);
  const issued = google.tokensIssued.length;
  google.revokeTokens();
  await upsert([row('160', { armadoBillId: '1' })]);
  expect(google.tokensIssued.length).toBe(issued + 1);
  expect(rowsOf('160')[0]![5]).toBe('1');
});

test('one keyed batch of 200 rows costs at most two write requests', async () => {
  await upsert(Array.from({ length: 100 }, (_, i) => row(String(2000 + i))));
  const before = google.writeRequests;
  const out = await upsert(Array.from({ length: 200 }, (_, i) => row(String(2000 + i), { armadoBillId: String(i) })));
  expect(google.writeRequests - before).toBe(2);
  expect(out.writeRequests).toBe(2);
  expectEachOnce(Array.from({ length: 200 }, (_, i) => String(2000 + i)));
});

test('a ledger past 10,000 rows still takes new rows: inserting rows grows the grid, as in Google Sheets', async () => {
  const first = Array.from({ length: 10_000 }, (_, i) => row(String(700000 + i)));
  for (let i = 0; i < first.length; i += 2_500) await upsert(first.slice(i, i + 2_500));
  expect(table()).toHaveLength(10_001); // the header and 10,000 rows
  await upsert([row('710000'), row('710001')]);
  expectEachOnce(['700000', '709999', '710000', '710001']);
  expect(table()).toHaveLength(10_003);
}, 60_000);
