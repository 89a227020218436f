// An end-to-end rig: the shared dev server, fresh sandboxes, the real worker on a task queue of its own.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { loadConfig, type Config } from '../../src/config';
import { startPaymentSync, type StartedPaymentSync } from '../../src/client/payment-sync-client';
import { buildPaymentModeTable } from '../../src/domain/payment-modes';
import type { PaymentSyncInput } from '../../src/domain/payment-input';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { createPaymentWorker } from '../../src/worker';
import { eventually } from './eventually';

export function installQuietRuntime(): void {
  try {
    // Core's own lines too: the time-skipping server lacks a capability, and core warns of it on every worker start.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }), forward: {} } } });
  } catch {
    // already installed in this worker process
  }
}

export interface E2E {
  sandboxes: Sandboxes;
  config: Config;
  client: Client;
  taskQueue: string;
  worker: Worker;
  start(input: Partial<PaymentSyncInput> & { invoiceNumber: string }): Promise<StartedPaymentSync>;
  stop(): Promise<void>;
}

export async function startE2E(env: Record<string, string> = {}, options: { spreadsheetId?: string } = {}): Promise<E2E> {
  installQuietRuntime();
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (!address || !codePath) throw new Error('run through jest: global-setup provides the dev server and bundle');
  const sandboxes = await startSandboxes({ spreadsheetId: options.spreadsheetId ?? `ledger-${randomUUID().slice(0, 8)}` });
  const config = loadConfig({
    ...sandboxes.env,
    TEMPORAL_ADDRESS: address,
    ARMADO_TIMEOUT: '2',
    TEMPO_TIMEOUT: '2',
    GOOGLE_SHEETS_TIMEOUT: '2',
    LEDGER_BATCH_WINDOW: '200ms',
    ...env,
  });
  const taskQueue = `e2e-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createPaymentWorker({ config, connection: nativeConnection, taskQueue, workflowBundle: { codePath } });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const modes = buildPaymentModeTable(config.paymentModes);
  return {
    sandboxes,
    config,
    client,
    taskQueue,
    worker,
    start: (input) =>
      startPaymentSync(
        client,
        { paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200, ...input },
        { taskQueue, defaultDossier: config.tempo.dossier, paymentModes: modes },
      ),
    async stop() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await sandboxes.stop();
    },
  };
}

/** An invoice known to Tempo (fully paid unless told) with `bills` bills in Armado (default one). */
export function addInvoice(sandboxes: Sandboxes, id: string, options: { fullyPaid?: boolean; bills?: number } = {}): string {
  sandboxes.tempo.addInvoice(id, 100);
  if (options.fullyPaid !== false) sandboxes.tempo.invoice(id)!.RegleeTotale = 'OUI';
  for (let i = 0; i < (options.bills ?? 1); i++) sandboxes.armado.addBill(id);
  return id;
}

/** The invoice numbers of the ledger's rows (header aside), sorted. */
export function ledgerInvoices(sandboxes: Sandboxes): string[] {
  return sandboxes.google
    .rows(sandboxes.spreadsheetId)
    .slice(1)
    .map((r) => String(r[0]))
    .sort();
}

/** Visibility is eventually consistent: waits until no payment run of the task queue reads as running. */
export async function allPaymentRunsClosed(client: Client, taskQueue: string): Promise<void> {
  await eventually(async () => {
    for await (const run of client.workflow.list({ query: `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${taskQueue}" AND ExecutionStatus="Running"` })) {
      void run;
      return false;
    }
    return true;
  }, 'visibility to show every payment sync closed');
}
