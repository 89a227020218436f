// `npm run demo`: dev server, worker and sandbox APIs in one process, then the sample payments of the README.
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { request } from 'undici';
import { loadConfig } from '../../src/config';
import { describeFailure } from '../../src/domain/errors';
import { startPaymentSync } from '../../src/client/payment-sync-client';
import { buildPaymentModeTable } from '../../src/domain/payment-modes';
import type { PaymentSyncInput } from '../../src/domain/payment-input';
import { backfillTable, progressBar, readBackfillFile, runBackfill } from '../../src/operations/backfill';
import { reconcileNow, reconcileReport } from '../../src/operations/reconcile';
import { startSandboxes, type Sandboxes } from '../sandbox';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { startDevServer } from '../../src/temporal/dev-server';
import { retryArmadoNowSignal } from '../../src/workflows/contract';
import { createPaymentWorker } from '../../src/worker';
import { DEV_SERVER_ADDRESS, DEV_SERVER_PORT, DEV_UI_PORT } from '../../src/scripts/ports';

/** What the Tempo integration does before it starts a sync: record the payment, keep the HTTP status. */
async function recordTempoPayment(sandboxes: Sandboxes, body: Record<string, unknown>): Promise<number> {
  const { tempo } = sandboxes;
  const res = await request(`${tempo.baseUrl}/FACTUREREGLEMENT?Dossier=${tempo.dossiers[0]}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${tempo.credentials.username}:${tempo.credentials.password}`).toString('base64')}`,
    },
    body: JSON.stringify(body),
  });
  await res.body.dump();
  return res.statusCode;
}

async function main(): Promise<void> {
  // The scenarios fail on purpose; the SDK's per-attempt warnings would bury the summary.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stateDir = join(PROJECT_ROOT, '.temporal');
  mkdirSync(stateDir, { recursive: true });
  const tag = `demo-${Date.now().toString(36)}`;
  // The sandbox spreadsheet lives in memory: a new one per demo, so no ledger writer of an earlier demo
  // (persisted in demo.db) is asked to write to a spreadsheet that no longer exists.
  const sandboxes = await startSandboxes({ keyDir: stateDir, spreadsheetId: tag });
  // Its own task queue too: demo.db keeps earlier demos' runs of the same invoice numbers, which the
  // reconciliation (it looks at the runs of its task queue) would otherwise count as this demo's payments.
  const config = loadConfig({
    ...sandboxes.env,
    TEMPORAL_ADDRESS: DEV_SERVER_ADDRESS,
    TEMPORAL_TASK_QUEUE: `payment-sync-${tag}`,
    ARMADO_BILL_RETRY_INTERVAL: '1m',
    ARMADO_BILL_RETRY_FOR: '1h',
  });
  const server = await startDevServer({ dbFilename: join(stateDir, 'demo.db'), port: DEV_SERVER_PORT, uiPort: DEV_UI_PORT });
  const connection = await NativeConnection.connect({ address: DEV_SERVER_ADDRESS });
  const worker = await createPaymentWorker({ config, connection });
  const running = worker.run();
  const client = new Client({ connection: server.connection });
  const say = (...lines: string[]) => lines.forEach((line) => process.stdout.write(`${line}\n`));
  say(`Temporal Web UI: http://localhost:${DEV_UI_PORT}   (Ctrl-C stops everything)`);

  const { tempo, armado, google } = sandboxes;
  const start = (input: Partial<PaymentSyncInput> & { invoiceNumber: string }, id: string, validateModes = true) =>
    startPaymentSync(
      client,
      { paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', paymentId: `${tag}-${id}`, ...input },
      { taskQueue: config.temporal.taskQueue, defaultDossier: config.tempo.dossier, paymentModes: validateModes ? buildPaymentModeTable(config.paymentModes) : undefined },
    );

  const scenarios: { name: string; run: () => Promise<unknown> }[] = [
    {
      name: 'fully paid (20664, virement)',
      run: async () => {
        tempo.addInvoice('20664', 795.6);
        armado.addBill('20664');
        armado.addBill('206640'); // a near match the search also returns
        const status = await recordTempoPayment(sandboxes, { IdFacture: '20664', RegleeTotale: 'OUI', DateReglementTotal: '20240115' });
        return (await start({ invoiceNumber: '20664', tempoStatus: status, amount: 795.6 }, 'a')).handle.result();
      },
    },
    {
      name: 'partial then full (20665, chèque)',
      run: async () => {
        tempo.addInvoice('20665', 1000);
        armado.addBill('20665');
        const first = await recordTempoPayment(sandboxes, { IdFacture: '20665', MontantReglementPartiel: '400.00' });
        await (await start({ invoiceNumber: '20665', paymentMode: 'Chèque', tempoStatus: first, amount: 400 }, 'b1')).handle.result();
        const second = await recordTempoPayment(sandboxes, { IdFacture: '20665', MontantReglementPartielTotal: '1000.00', RegleeTotale: 'OUI', DateReglementTotal: '20240201' });
        return (await start({ invoiceNumber: '20665', paymentMode: 'cheque', paymentDate: '2024-02-01', tempoStatus: second, amount: 600 }, 'b2')).handle.result();
      },
    },
    {
      name: 'Tempo did not answer 200 (20666)',
      run: async () => {
        const status = await recordTempoPayment(sandboxes, { IdFacture: '20666', RegleeTotale: 'OUI', DateReglementTotal: '20240115' });
        return (await start({ invoiceNumber: '20666', tempoStatus: status }, 'c')).handle.result();
      },
    },
    {
      name: 'unknown payment mode (20667, bitcoin)',
      run: async () => {
        tempo.addInvoice('20667', 50);
        // Started without the client-side mode check, as another SDK would, to show the workflow's own refusal.
        return (await start({ invoiceNumber: '20667', paymentMode: 'bitcoin', tempoStatus: 200 }, 'd', false)).handle.result();
      },
    },
    {
      name: 'Armado answers 503 twice, then OK (20668)',
      run: async () => {
        tempo.addInvoice('20668', 120);
        tempo.invoice('20668')!.RegleeTotale = 'OUI';
        armado.addBill('20668');
        armado.server.injectFault({ method: 'PUT', path: '/v1/bill/', status: 503, times: 2 });
        return (await start({ invoiceNumber: '20668', paymentMode: 'CB', tempoStatus: 200, amount: 120 }, 'e')).handle.result();
      },
    },
    {
      name: 'bill created late in Armado, then retryArmadoNow (20669)',
      run: async () => {
        tempo.addInvoice('20669', 60);
        tempo.invoice('20669')!.RegleeTotale = 'OUI';
        const { handle } = await start({ invoiceNumber: '20669', paymentMode: 'espèces', tempoStatus: 200, amount: 60 }, 'f');
        await new Promise((r) => setTimeout(r, 5_000));
        armado.addBill('20669');
        await handle.signal(retryArmadoNowSignal);
        return handle.result();
      },
    },
  ];

  for (const scenario of scenarios) {
    try {
      const result = (await scenario.run()) as { outcome: string; sheet: { row: number }; armado: { status: string } };
      say(`  ✓ ${scenario.name}: ${result.outcome}, ledger row ${result.sheet.row}, Armado ${result.armado.status}`);
    } catch (err) {
      const failure = describeFailure(err);
      say(`  ✗ ${scenario.name}: ${failure.type}: ${failure.message}`);
    }
  }
  say(`Ledger "${config.sheets.sheetName}" in the sandbox spreadsheet:`);
  for (const row of google.rows(sandboxes.spreadsheetId)) say(`  ${row.join(' | ')}`);

  // Triggers that never came: what the nightly reconciliation finds and does.
  // 20670: its only payment was triggered while Tempo still read it as partial; an accountant settled it by hand.
  tempo.addInvoice('20670', 300);
  armado.addBill('20670');
  const partial = await recordTempoPayment(sandboxes, { IdFacture: '20670', MontantReglementPartiel: '300.00' });
  await (await start({ invoiceNumber: '20670', paymentMode: 'virement', paymentDate: '2024-03-04T15:30:00+01:00', tempoStatus: partial, amount: 300 }, 'g')).handle.result();
  await recordTempoPayment(sandboxes, { IdFacture: '20670', RegleeTotale: 'OUI', DateReglementTotal: '20240305' });
  // 20671: a first payment was triggered, the second one (which settled it) never was: its mode is unknown.
  tempo.addInvoice('20671', 500);
  armado.addBill('20671');
  const first = await recordTempoPayment(sandboxes, { IdFacture: '20671', MontantReglementPartiel: '200.00' });
  await (await start({ invoiceNumber: '20671', paymentMode: 'cb', paymentDate: '2024-03-01', tempoStatus: first, amount: 200 }, 'h')).handle.result();
  await recordTempoPayment(sandboxes, { IdFacture: '20671', MontantReglementPartielTotal: '500.00', RegleeTotale: 'OUI', DateReglementTotal: '20240306' });
  // Visibility catches up with the runs that just closed before the reconciliation lists them.
  await new Promise((r) => setTimeout(r, 1_500));
  say('', 'Reconciliation (what the nightly Schedule runs; `tempo-armado-sync reconcile` runs it now):');
  const summary = await reconcileNow(client, { taskQueue: config.temporal.taskQueue, dryRun: false });
  for (const line of reconcileReport(summary)) say(`  ${line}`);
  for (const s of summary.started) await client.workflow.getHandle(s.workflowId).result();
  say(`Tab "${config.reconcile.sheetName}":`);
  for (const row of google.rows(sandboxes.spreadsheetId, config.reconcile.sheetName)) say(`  ${row.join(' | ')}`);

  // Payments that predate the service: a backfill file with a duplicate and a bad line.
  tempo.addInvoice('20672', 90);
  tempo.invoice('20672')!.RegleeTotale = 'OUI';
  armado.addBill('20672');
  tempo.addInvoice('20673', 45);
  const backfillFile = join(stateDir, 'demo-backfill.csv');
  writeFileSync(
    backfillFile,
    [
      'invoice;mode;date;amount;payment id',
      `20672;virement;2023-12-20;90;${tag}-k1`,
      `20673;chèque;2023-12-21;20;${tag}-k2`,
      `20672;virement;2023-12-20;90;${tag}-k1`,
      `20674;troc;2023-12-22;10;${tag}-k3`,
    ].join('\n'),
  );
  say('', `Backfill of ${backfillFile} (tempo-armado-sync backfill FILE):`);
  const lines = readBackfillFile(backfillFile, readFileSync(backfillFile, 'utf8'), {
    defaultDossier: config.tempo.dossier,
    paymentModes: buildPaymentModeTable(config.paymentModes),
  });
  for (const l of lines.filter((x) => x.problems)) say(`  line ${l.line}: ${(l.problems ?? []).map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  const report = await runBackfill(client, lines, {
    taskQueue: config.temporal.taskQueue,
    defaultDossier: config.tempo.dossier,
    paymentModes: buildPaymentModeTable(config.paymentModes),
    ratePerSecond: 5,
    onProgress: (p) => p.done === p.total && say(`  ${progressBar(p)}`),
  });
  for (const line of backfillTable(report)) say(`  ${line}`);
  say(`Find them in the UI: http://localhost:${DEV_UI_PORT}/namespaces/default/workflows   (Ctrl-C to stop)`);

  try {
    await running;
  } finally {
    await connection.close();
    await server.teardown();
    await sandboxes.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
