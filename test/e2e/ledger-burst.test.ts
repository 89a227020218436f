// The ledger's single writer under a burst: 200 payments at once with Google's write quota enforced.
// BURST_N=1000 BURST_DEFAULTS=1 measures a thousand with the production batch settings (figures printed).
import { ledgerWriterId } from '../../src/workflows/ledger-protocol';
import { startE2E, type E2E } from '../helpers/e2e';
import { writerFigures } from '../helpers/ledger-writer';

let rig: E2E;
beforeAll(async () => {
  // A low rollover threshold makes the writer continue as new mid-burst, with rows still queued.
  rig = await startE2E(process.env.BURST_DEFAULTS ? { LEDGER_BATCH_WINDOW: '2s' } : { LEDGER_BATCH_WINDOW: '1s', LEDGER_MAX_BATCH: '60', LEDGER_ROLLOVER_EVENTS: '150' });
  rig.sandboxes.google.writeQuotaPerMinute = 60;
});
afterAll(async () => rig?.stop());

const N = Number(process.env.BURST_N ?? 200);

test(`${N} fully paid invoices started at once: ${N} rows, none lost or overwritten, no 429`, async () => {
  const { tempo, armado, google, spreadsheetId } = rig.sandboxes;
  const ids = Array.from({ length: N }, (_, i) => String(50000 + i));
  for (const id of ids) {
    tempo.addInvoice(id, 10);
    tempo.invoice(id)!.RegleeTotale = 'OUI';
    armado.addBill(id);
  }
  const started = await Promise.all(ids.map((id) => rig.start({ invoiceNumber: id, amount: 10 })));
  const results = await Promise.all(started.map((s) => s.handle.result()));
  expect(results.every((r) => r.outcome === 'synced')).toBe(true);

  const rows = google.rows(spreadsheetId).slice(1);
  expect(rows).toHaveLength(N);
  expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(ids));
  const byInvoice = new Map(started.map((s, i) => [ids[i], s.workflowId]));
  for (const row of rows) {
    expect(row[1]).toBe('Payée');
    expect(row[7]).toBe(byInvoice.get(row[0]!)); // each row still carries its own run: nothing overwritten
    expect(row[5]).toBe(String(armado.billsWithReference(row[0]!)[0]!.id));
  }
  // Each row's result points at the row that really holds it.
  results.forEach((r) => expect(google.rows(spreadsheetId)[r.sheet.row - 1]![0]).toBe(r.invoiceNumber));

  expect(google.quotaRejections).toBe(0);
  const writes = google.writeRequests;
  // Two row writes a payment (the row, then its Armado bill id), batched: at most two requests a batch.
  expect(writes).toBeLessThanOrEqual(Math.ceil((2 * N) / rig.config.ledger.maxBatch) * 2 + 10);
  const writer = await writerFigures(rig.client, ledgerWriterId(spreadsheetId, rig.config.sheets.sheetName, rig.taskQueue));
  if (!process.env.BURST_DEFAULTS) expect(writer.runs).toBeGreaterThan(1); // it rolled over, and no queued row was lost doing so
  process.stdout.write(
    `ledger burst: ${N} payments, ${2 * N} row writes in ${writes} Sheets write requests, ${google.quotaRejections} × 429; writer: ${writer.runs} run(s), longest history ${writer.longestHistory} events, largest input ${(writer.largestInput / 1024).toFixed(1)} KiB, largest payload ${(writer.largestPayload / 1024).toFixed(1)} KiB\n`,
  );
}, 600_000);
