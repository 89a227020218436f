// `npm run record-histories`: runs every branch of paymentSyncWorkflow for real (dev server, sandboxes, worker)
// and writes each run's event history to test/histories/<branch>.json for the replay tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { loadConfig, type Config } from '../../src/config';
import { failureTypeOf } from '../../src/domain/errors';
import { paymentWorkflowId, startPaymentSync } from '../../src/client/payment-sync-client';
import type { PaymentSyncInput } from '../../src/domain/payment-input';
import type { PaymentSyncResult } from '../../src/domain/shapes';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { startDevServer } from '../../src/temporal/dev-server';
import { retryArmadoNowSignal } from '../../src/workflows/contract';
import { ledgerWriterId } from '../../src/workflows/ledger-protocol';
import { createPaymentWorker } from '../../src/worker';

export const HISTORIES_DIR = join(PROJECT_ROOT, 'test', 'histories');

/** What a recorded branch must end with; a recording that ends otherwise is refused. */
type Expected = { outcome: PaymentSyncResult['outcome'] } | { failureType: string };

interface Scenario {
  name: string;
  expected: Expected;
  /** Task queue of the worker whose bill-search schedule the branch needs. */
  queue?: 'impatient';
  run(ctx: { sandboxes: Sandboxes; start: (input: Partial<PaymentSyncInput> & { invoiceNumber: string }) => Promise<string> }): Promise<string>;
}

const paid = (sandboxes: Sandboxes, invoice: string, amount = 100) => {
  sandboxes.tempo.addInvoice(invoice, amount);
  sandboxes.tempo.invoice(invoice)!.RegleeTotale = 'OUI';
};

export const SCENARIOS: Scenario[] = [
  {
    name: 'synced',
    expected: { outcome: 'synced' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30001', 795.6);
      sandboxes.armado.addBill('30001');
      sandboxes.armado.addBill('300010'); // a near match the search also returns
      return start({ invoiceNumber: '30001', amount: 795.6 });
    },
  },
  {
    name: 'partially-paid',
    expected: { outcome: 'partially-paid' },
    run: async ({ sandboxes, start }) => {
      sandboxes.tempo.addInvoice('30002', 1000);
      sandboxes.armado.addBill('30002');
      return start({ invoiceNumber: '30002', paymentMode: 'Chèque', amount: 400 });
    },
  },
  {
    name: 'tempo-update-not-confirmed',
    expected: { failureType: 'TempoUpdateNotConfirmed' },
    run: async ({ start }) => start({ invoiceNumber: '30003', tempoStatus: 500 }),
  },
  {
    name: 'invalid-payment-input',
    expected: { failureType: 'InvalidPaymentInput' },
    // Started by name without client-side validation, as another SDK could.
    run: async ({ start }) => start({ invoiceNumber: '30004', paymentDate: '15/01/2024' }),
  },
  {
    name: 'unknown-payment-mode',
    expected: { failureType: 'UnknownPaymentMode' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30005');
      return start({ invoiceNumber: '30005', paymentMode: 'bitcoin' });
    },
  },
  {
    name: 'tempo-invoice-not-found',
    expected: { failureType: 'TempoInvoiceNotFound' },
    run: async ({ start }) => start({ invoiceNumber: '30006' }),
  },
  {
    name: 'tempo-auth-failed',
    expected: { failureType: 'TempoAuthFailed' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30007');
      sandboxes.tempo.credentials.password = 'rotated-by-tempo-admin';
      return start({ invoiceNumber: '30007' });
    },
  },
  {
    name: 'armado-auth-failed',
    expected: { failureType: 'ArmadoAuthFailed' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30008');
      sandboxes.armado.addBill('30008');
      sandboxes.armado.apiKey = 'rotated-in-armado';
      return start({ invoiceNumber: '30008' });
    },
  },
  {
    name: 'sheets-auth-failed',
    expected: { failureType: 'SheetsAuthFailed' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30009');
      sandboxes.armado.addBill('30009');
      sandboxes.google.setShared(sandboxes.spreadsheetId, false);
      return start({ invoiceNumber: '30009' });
    },
  },
  {
    name: 'armado-validation-failed',
    expected: { failureType: 'ArmadoValidationFailed' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30010');
      sandboxes.armado.addBill('30010');
      // PAYMENT_MODE_MAP maps "crypto" to type 9, which Armado does not know: a real 422.
      return start({ invoiceNumber: '30010', paymentMode: 'crypto' });
    },
  },
  {
    name: 'armado-bill-ambiguous',
    expected: { failureType: 'ArmadoBillAmbiguous' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30011');
      sandboxes.armado.addBill('30011');
      sandboxes.armado.addBill('30011');
      return start({ invoiceNumber: '30011' });
    },
  },
  {
    name: 'armado-bill-not-found',
    expected: { failureType: 'ArmadoBillNotFound' },
    queue: 'impatient',
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30012');
      return start({ invoiceNumber: '30012' });
    },
  },
  {
    name: 'transient-failures-then-synced',
    expected: { outcome: 'synced' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30013');
      sandboxes.armado.addBill('30013');
      sandboxes.tempo.server.injectFault({ method: 'GET', path: '/API/Tempo/FACTURE', status: 429, retryAfter: 1 });
      sandboxes.armado.server.injectFault({ method: 'GET', path: '/v1/bill', status: 503, times: 2 });
      sandboxes.armado.server.injectFault({ method: 'PUT', path: '/v1/bill/', status: 502 });
      sandboxes.google.server.injectFault({ method: 'POST', path: '/v4/spreadsheets/', status: 500 });
      return start({ invoiceNumber: '30013', paymentMode: 'CB' });
    },
  },
  {
    name: 'bill-created-late-retry-armado-now',
    expected: { outcome: 'synced' },
    run: async ({ sandboxes, start }) => {
      paid(sandboxes, '30014');
      return start({ invoiceNumber: '30014', paymentMode: 'espèces' });
    },
  },
];

async function awaitOutcome(client: Client, workflowId: string): Promise<Expected> {
  try {
    const result = (await client.workflow.getHandle(workflowId).result()) as PaymentSyncResult;
    return { outcome: result.outcome };
  } catch (err) {
    if (err instanceof WorkflowFailedError) return { failureType: failureTypeOf(err) };
    throw err;
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer();
  const sandboxes = await startSandboxes({ spreadsheetId: 'recorded-ledger' });
  const baseEnv = { ...sandboxes.env, TEMPORAL_ADDRESS: server.address, PAYMENT_MODE_MAP: '{"crypto": 9}', LEDGER_BATCH_WINDOW: '300ms', ARMADO_TIMEOUT: '2', TEMPO_TIMEOUT: '2' };
  const configs: Record<string, Config> = {
    'payment-sync': loadConfig({ ...baseEnv, ARMADO_BILL_RETRY_INTERVAL: '1h', ARMADO_BILL_RETRY_FOR: '3d' }),
    'payment-sync-impatient': loadConfig({ ...baseEnv, TEMPORAL_TASK_QUEUE: 'payment-sync-impatient', ARMADO_BILL_RETRY_INTERVAL: '1s', ARMADO_BILL_RETRY_FOR: '3s' }),
  };
  const connection = await NativeConnection.connect({ address: server.address });
  const workers: Worker[] = await Promise.all(Object.entries(configs).map(([taskQueue, config]) => createPaymentWorker({ config, connection, taskQueue })));
  const running = workers.map((w) => w.run());
  const client = new Client({ connection: server.connection });
  const mainConfig = configs['payment-sync'] as Config;
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  // `--only=NAME`: record that history alone, leaving the other files as they are.
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const write = (name: string, history: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>) => {
    if (only && only !== name) return;
    writeFileSync(join(HISTORIES_DIR, `${name}.json`), `${historyToJSON(history)}\n`);
    say(`  ✓ ${name}: ${history.events?.length ?? 0} events`);
  };
  let failed = 0;

  try {
    for (const scenario of SCENARIOS) {
      const taskQueue = scenario.queue === 'impatient' ? 'payment-sync-impatient' : 'payment-sync';
      const start = async (partial: Partial<PaymentSyncInput> & { invoiceNumber: string }) => {
        const input = { paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200, paymentId: `recorded-${scenario.name}`, ...partial };
        // As the Tempo integration starts a payment (search attributes and memo set at the start); an input the
        // client refuses is started by hand, as a run started without them.
        const started = await startPaymentSync(client, input as PaymentSyncInput, { taskQueue, defaultDossier: mainConfig.tempo.dossier }).catch(() => undefined);
        if (started) return started.workflowId;
        const workflowId = paymentWorkflowId(input as PaymentSyncInput, mainConfig.tempo.dossier);
        await client.workflow.start('paymentSyncWorkflow', { workflowId, taskQueue, args: [input] });
        return workflowId;
      };
      const workflowId = await scenario.run({ sandboxes, start });
      if (scenario.name === 'bill-created-late-retry-armado-now') {
        await waitFor(() => sandboxes.armado.server.count('GET', '/v1/bill') >= 1);
        sandboxes.armado.addBill('30014');
        await client.workflow.getHandle(workflowId).signal(retryArmadoNowSignal);
      }
      const got = await awaitOutcome(client, workflowId);
      // Put back what the scenario broke, for the next one.
      sandboxes.tempo.credentials.password = configs['payment-sync']!.tempo.password;
      sandboxes.armado.apiKey = configs['payment-sync']!.armado.apiKey;
      sandboxes.google.setShared(sandboxes.spreadsheetId, true);
      for (const s of [sandboxes.tempo, sandboxes.armado, sandboxes.google]) s.server.clearFaults();
      if (JSON.stringify(got) !== JSON.stringify(scenario.expected)) {
        failed += 1;
        say(`  ✗ ${scenario.name}: expected ${JSON.stringify(scenario.expected)}, got ${JSON.stringify(got)} (not written)`);
        continue;
      }
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      write(scenario.name, history);
    }
    // The ledger writer served every run above; its (still running) history replays too.
    write('ledger-writer', await client.workflow.getHandle(ledgerWriterId(sandboxes.spreadsheetId, mainConfig.sheets.sheetName, 'payment-sync')).fetchHistory());
    // A reconciliation over what the branches left: a partially paid row settled since, failed runs.
    sandboxes.tempo.invoice('30002')!.RegleeTotale = 'OUI';
    await new Promise((r) => setTimeout(r, 1_500)); // visibility catches up with the closed runs
    const reconciliation = await client.workflow.start('reconcilePaymentsWorkflow', { workflowId: 'recorded-reconcile', taskQueue: 'payment-sync', args: [{}] });
    await reconciliation.result();
    write('reconcile', await reconciliation.fetchHistory());
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.all(running);
    await connection.close();
    await server.teardown();
    await sandboxes.stop();
  }
  if (failed > 0) throw new Error(`${failed} branch(es) did not end as expected; their histories were not written`);
}

async function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the scenario');
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
