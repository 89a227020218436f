// `npm run demo`: dev server, worker and sandbox APIs in one process, then the sample payments of the README.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { request } from 'undici';
import { loadConfig } from '../config';
import { startPaymentSync } from '../client/payment-sync-client';
import { buildPaymentModeTable } from '../domain/payment-modes';
import type { PaymentSyncInput } from '../domain/payment-input';
import { startSandboxes, type Sandboxes } from '../sandbox';
import { PROJECT_ROOT } from '../temporal/binaries';
import { startDevServer } from '../temporal/dev-server';
import { retryArmadoNowSignal } from '../workflows/contract';
import { createPaymentWorker } from '../worker';
import { DEV_SERVER_PORT, DEV_UI_PORT } from './ports';

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
  const config = loadConfig({ ...sandboxes.env, TEMPORAL_ADDRESS: `127.0.0.1:${DEV_SERVER_PORT}`, ARMADO_BILL_RETRY_INTERVAL: '1m', ARMADO_BILL_RETRY_FOR: '1h' });
  const server = await startDevServer({ dbFilename: join(stateDir, 'demo.db'), port: DEV_SERVER_PORT, uiPort: DEV_UI_PORT });
  const connection = await NativeConnection.connect({ address: `127.0.0.1:${DEV_SERVER_PORT}` });
  const worker = await createPaymentWorker({ config, connection });
  const running = worker.run();
  const client = new Client({ connection: server.connection });
  const say = (line: string) => process.stdout.write(`${line}\n`);
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
      const cause = err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      say(`  ✗ ${scenario.name}: ${cause ? `${cause.type}: ${cause.message}` : (err as Error).message}`);
    }
  }
  say(`Ledger "${config.sheets.sheetName}" in the sandbox spreadsheet:`);
  for (const row of google.rows(sandboxes.spreadsheetId)) say(`  ${row.join(' | ')}`);
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
