// The production topology, run for real: PostgreSQL, the full Temporal server (the compose file's version and
// configuration), three worker processes and the intake, all from the build the image runs. 300 payments
// arrive over HTTP; one worker is SIGKILLed mid-run and the Temporal server is restarted once. Afterwards every
// payment is exactly right, and operators' tools (search attributes, reset-failed) work against the cluster.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { request } from 'undici';
import { failureTypeOf } from '../../src/domain/errors';
import type { PaymentSyncResult } from '../../src/domain/shapes';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { startServiceProcess, type ServiceProcess } from '../../dev/scripts/service-processes';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { startTemporalCluster, type TemporalCluster } from '../../dev/cluster/cluster';
import { freePort } from '../../src/temporal/dev-server';
import { eventually } from '../helpers/eventually';
import { composeConfig } from '../../dev/cluster/compose-cli';
import { composeLaunch, composeServerVersion } from './compose';

const N = Number(process.env.CLUSTER_PAYMENTS ?? 300);
const TOKEN = 'cluster-test-intake-token-0123456789';
const say = (line: string) => process.stdout.write(`cluster: ${line}\n`);

let cluster: TemporalCluster;
let sandboxes: Sandboxes;
let connection: Connection;
let client: Client;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  const started = Date.now();
  cluster = await startTemporalCluster({
    serverLogFile: join(PROJECT_ROOT, 'test-artifacts', 'cluster', 'temporal-server.log'),
    log: say,
    // As docker-compose.yml runs it, with what .env would give it.
    launch: (defaults) => composeLaunch(defaults, { POSTGRES_USER: defaults.env.POSTGRES_USER, POSTGRES_PASSWORD: defaults.env.POSTGRES_PWD }),
  });
  say(`PostgreSQL + Temporal server + schemas + namespace up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  sandboxes = await startSandboxes({ spreadsheetId: 'cluster-ledger' });
  connection = await Connection.connect({ address: cluster.address });
  client = new Client({ connection, namespace: cluster.namespace });
});

afterAll(async () => {
  for (const p of processes) p.child.kill('SIGKILL');
  await connection?.close();
  await cluster?.stop();
  await sandboxes?.stop();
});

/** Invoices by what happens to them: settled with a bill, partly paid, settled but no bill in Armado (fails). */
function kindOf(i: number): 'settled' | 'partial' | 'no-bill' {
  const r = i % 10;
  return r < 8 ? 'settled' : r === 8 ? 'partial' : 'no-bill';
}

/** A run's end, waited for through the server's restart (a long poll is cut) and the worker's death. */
async function outcomeOf(workflowId: string): Promise<string> {
  for (;;) {
    try {
      return ((await client.workflow.getHandle(workflowId).result()) as PaymentSyncResult).outcome;
    } catch (err) {
      if (err instanceof WorkflowFailedError) return `failed:${failureTypeOf(err)}`;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

test('Docker Compose resolves the file with .env.example, and refuses it without a required secret, naming it', () => {
  expect(Object.keys(composeConfig().services).sort()).toEqual([
    'intake',
    'postgresql',
    'prometheus',
    'temporal',
    'temporal-admin-tools',
    'temporal-schema',
    'temporal-ui',
    'worker',
  ]);
  expect(() => composeConfig({}, null)).toThrow(/POSTGRES_PASSWORD.*set POSTGRES_PASSWORD in \.env/s);
});

test("the server compose's image runs (same version) started from compose's own entrypoint and environment", async () => {
  const info = await client.workflowService.getSystemInfo({});
  expect(info.serverVersion).toBe(composeServerVersion());
});

test(`${N} payments through the intake on 3 workers; one SIGKILLed, the server restarted; all exactly right`, async () => {
  const env = {
    PATH: process.env.PATH,
    ...sandboxes.env,
    TEMPORAL_ADDRESS: cluster.address,
    TEMPORAL_NAMESPACE: cluster.namespace,
    WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
    LEDGER_BATCH_WINDOW: '500ms',
    ARMADO_BILL_RETRY_INTERVAL: '5s',
    ARMADO_BILL_RETRY_FOR: '20s',
    METRICS_PORT: '0',
  };
  for (let i = 0; i < 3; i++) processes.push(await startServiceProcess('worker', env));
  const intakePort = await freePort();
  const intake = await startServiceProcess('intake', { ...env, INTAKE_TOKEN: TOKEN, INTAKE_PORT: String(intakePort) });
  processes.push(intake);

  const invoices = Array.from({ length: N }, (_, i) => String(500000 + i));
  for (const [i, id] of invoices.entries()) {
    sandboxes.tempo.addInvoice(id, 100);
    if (kindOf(i) !== 'partial') sandboxes.tempo.invoice(id)!.RegleeTotale = 'OUI';
    if (kindOf(i) !== 'no-bill') sandboxes.armado.addBill(id);
  }

  // The chaos: worker 1 SIGKILLed once a third of the payments are done, the server restarted at two thirds.
  let closed = 0;
  const countClosed = async () => {
    try {
      closed = (await client.workflow.count('WorkflowType="paymentSyncWorkflow" AND ExecutionStatus!="Running"')).count;
    } catch {
      // the server is restarting
    }
    return closed;
  };
  const began = Date.now();
  const events: string[] = [];
  const chaos = (async () => {
    await eventually(async () => (await countClosed()) >= N / 3, 'a third of the payments', 600_000, 200);
    processes[0]!.child.kill('SIGKILL');
    events.push(`worker 1 SIGKILLed at ${((Date.now() - began) / 1000).toFixed(1)} s (${closed} runs closed)`);
    await eventually(async () => (await countClosed()) >= (2 * N) / 3, 'two thirds of the payments', 600_000, 200);
    const restarting = Date.now();
    await cluster.restartServer();
    events.push(
      `server restarted at ${((restarting - began) / 1000).toFixed(1)} s (${closed} runs closed), answering again after ${((Date.now() - restarting) / 1000).toFixed(1)} s`,
    );
  })();

  // Posted as the Tempo integration would, 20 at a time; the intake answers 202 with the run's workflow id.
  const workflowIds: string[] = new Array(N);
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < N) {
        const i = next++;
        const res = await request(`http://127.0.0.1:${intakePort}/v1/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ invoiceNumber: invoices[i], paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200, amount: 100 }),
        });
        const body = (await res.body.json()) as { workflowId: string };
        expect(res.statusCode).toBe(202);
        workflowIds[i] = body.workflowId;
      }
    }),
  );
  const outcomes: string[] = [];
  for (const id of workflowIds) outcomes.push(await outcomeOf(id));
  const wall = (Date.now() - began) / 1000;
  await chaos; // both faults happened before the last run ended
  expect(events).toHaveLength(2);

  // Every run ended as its invoice says.
  const expected = invoices.map((_, i) => ({ settled: 'synced', partial: 'partially-paid', 'no-bill': 'failed:ArmadoBillNotFound' })[kindOf(i)]);
  expect(outcomes).toEqual(expected);
  // One ledger row per invoice.
  const rows = sandboxes.google.rows(sandboxes.spreadsheetId).slice(1);
  expect(rows.map((r) => r[0]).sort()).toEqual([...invoices].sort());
  // One applied PUT per settled bill, with the payment's values.
  for (const [i, id] of invoices.entries()) {
    if (kindOf(i) !== 'settled') continue;
    const bill = sandboxes.armado.billsWithReference(id)[0]!;
    expect({ id, puts: sandboxes.armado.puts.filter((p) => p.billId === bill.id).length, type: bill.paymentType, date: bill.paymentDate }).toEqual({
      id,
      puts: 1,
      type: 2,
      date: '2024-01-15T10:30:00.000000',
    });
  }
  // One ledger writer, whatever the number of workers: one workflow id, its runs one after the other.
  const writers = [];
  for await (const w of client.workflow.list({ query: 'WorkflowType="paymentLedgerWorkflow"' })) writers.push(w);
  expect(new Set(writers.map((w) => w.workflowId)).size).toBe(1);
  const spans = writers.map((w) => [w.startTime.getTime(), w.closeTime?.getTime() ?? Infinity] as const).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  expect(spans.filter(([, close]) => close === Infinity)).toHaveLength(1);

  // Operators' view: the failed runs by search attribute, and a dry-run reset of them.
  const failed = invoices.filter((_, i) => kindOf(i) === 'no-bill');
  const failedByAttribute = async () => {
    const found: string[] = [];
    for await (const w of client.workflow.list({ query: 'SyncOutcome="failed"' })) found.push(String(w.searchAttributes.InvoiceNumber?.[0]));
    return found.sort();
  };
  await eventually(async () => (await failedByAttribute()).length === failed.length, 'visibility to list the failed runs', 30_000, 500);
  expect(await failedByAttribute()).toEqual(failed);
  const reset = await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'reset-failed', '--dry-run'], { env: env as NodeJS.ProcessEnv });
  expect(reset.stderr).toContain(`${failed.length} run(s) matched: ${failed.length} would be reset`);
  expect(
    reset.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t')[0])
      .sort(),
  ).toEqual(failed);

  say(`${N} payments in ${wall.toFixed(1)} s (${(N / wall).toFixed(1)}/s) on 3 workers (then 2); ${events.join('; ')}; ledger writer: ${writers.length} run(s)`);
});
