// `npm run bench:reconcile`: the time to reconcile a ledger of BENCH_ROWS (1000) rows against the sandboxes
// (Tempo 80 ms, Armado 120 ms, Sheets 200 ms of latency), at each RECONCILE_RATE of BENCH_RATES (5,20) and each
// RECONCILE_FULL_SWEEP of BENCH_SWEEPS (30d: a night's slice of the settled rows; 1d: every settled row, a full sweep).
// The ledger: 70 % paid and final (written long ago: checked only in their slice), 10 % partially paid and in
// agreement, 10 % settled in Tempo without a trigger, 10 % paid without the bill id. Prints a table; says when a
// count is wrong.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { SheetsClient } from '../src/apis/sheets';
import { loadConfig } from '../src/config';
import { LEDGER_HEADER } from '../src/domain/shapes';
import { reconcileNow } from '../src/operations/reconcile';
import { startSandboxes } from '../dev/sandbox';
import { startDevServer } from '../src/temporal/dev-server';
import { createPaymentWorker } from '../src/worker';

const ROWS = Number(process.env.BENCH_ROWS ?? 1000);
const RATES = (process.env.BENCH_RATES ?? '5,20').split(',').map(Number);
const SWEEPS = (process.env.BENCH_SWEEPS ?? '30d,1d').split(',');
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer({});
  const address = server.connection.options.address;
  const figures: string[] = [];
  try {
    for (const [rate, sweep] of RATES.flatMap((r) => SWEEPS.map((w) => [r, w] as const))) {
      const sandboxes = await startSandboxes({ spreadsheetId: `bench-${randomUUID().slice(0, 8)}` });
      sandboxes.tempo.server.latencyMs = 80;
      sandboxes.armado.server.latencyMs = 120;
      sandboxes.google.server.latencyMs = 200;
      const config = loadConfig({ ...sandboxes.env, TEMPORAL_ADDRESS: address, RECONCILE_RATE: String(rate), RECONCILE_FULL_SWEEP: sweep });
      const rows: (string | number)[][] = [[...LEDGER_HEADER]];
      for (let i = 0; i < ROWS; i++) {
        const id = String(500000 + i);
        const kind = i % 10;
        const invoice = sandboxes.tempo.addInvoice(id, 100);
        const bill = sandboxes.armado.addBill(id, 100);
        const paid = kind <= 6 || kind === 9;
        if (paid || kind === 8) Object.assign(invoice, { RegleeTotale: 'OUI', DateReglementTotal: '20240115', MontantReglementPartielTotal: '100.00' });
        if (kind === 7) invoice.MontantReglementPartielTotal = '50.00';
        if (paid) Object.assign(bill, { paymentType: 2, paymentDate: '2024-01-15T00:00:00.000000' });
        rows.push([
          id,
          paid ? 'Payée' : 'Partiellement payée',
          'virement',
          '2024-01-15',
          paid ? 100 : 50,
          kind <= 6 ? String(bill.id) : '',
          '2024-01-15T09:00:00Z',
          `payment-sync-DEMO-${id}-old`,
        ]);
      }
      await new SheetsClient(config.sheets).batchUpdate(sandboxes.spreadsheetId, [{ range: `'Paiements'!A1:H${rows.length}`, values: rows }]);

      const taskQueue = `bench-reconcile-${randomUUID()}`;
      const native = await NativeConnection.connect({ address });
      const worker = await createPaymentWorker({ config, connection: native, taskQueue });
      const running = worker.run();
      const connection = await Connection.connect({ address });
      const client = new Client({ connection });
      const tempoBefore = sandboxes.tempo.server.requests.length;
      const began = Date.now();
      const summary = await reconcileNow(client, { taskQueue, dryRun: false });
      const wallS = (Date.now() - began) / 1000;
      // The unfinished 30 %, and of the final rows those of tonight's slice (all of them on a one-day sweep).
      const swept = summary.checked - (ROWS * 3) / 10;
      const expected = { inSync: ROWS / 10 + swept, settled: ROWS / 10, billId: ROWS / 10 };
      const exact =
        swept >= 0 &&
        swept <= (ROWS * 7) / 10 &&
        (sweep !== '1d' || swept === (ROWS * 7) / 10) &&
        summary.inSync === expected.inSync &&
        summary.drift['settled-in-tempo'] === expected.settled &&
        summary.drift['bill-id-missing'] === expected.billId
          ? 'exact'
          : `WRONG ${JSON.stringify({ checked: summary.checked, inSync: summary.inSync, drift: summary.drift })}`;
      figures.push(
        `| ${ROWS} | ${rate}/s | ${sweep} | ${summary.checked} (${swept} settled) | ${wallS.toFixed(1)} s | ${(summary.checked / wallS).toFixed(1)} | ${sandboxes.tempo.server.requests.length - tempoBefore} | ${exact} |`,
      );
      say(`rate ${rate}/s, sweep ${sweep}: ${wallS.toFixed(1)} s`);
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      await sandboxes.stop();
    }
  } finally {
    await server.teardown();
  }
  say('');
  say('| ledger rows | RECONCILE_RATE | RECONCILE_FULL_SWEEP | invoices checked | wall time | invoices/s | Tempo calls | counts |');
  say('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const line of figures) say(line);
}

main().catch((err) => {
  say(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
