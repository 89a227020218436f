// Alerts on the production topology: Prometheus (Debian's) scrapes every worker of the cluster, loads the project's
// rule file, and an alert fires when its condition is produced and resolves when it ends, read through
// Prometheus's own HTTP API. Google Sheets refusing every call makes the ledger's rows wait: LedgerBacklogStale.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { startPaymentSync } from '../../src/client/payment-sync-client';
import type { PaymentSyncResult } from '../../src/domain/shapes';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/dev-server';
import { startTemporalCluster, type TemporalCluster } from '../../dev/cluster/cluster';
import { prometheusApi, RULES_FILE, startPrometheus, type LocalPrometheus } from '../../dev/cluster/prometheus';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { startServiceProcess, type ServiceProcess } from '../../dev/scripts/service-processes';
import { addInvoice, ledgerInvoices } from '../helpers/e2e';
import { eventually } from '../helpers/eventually';

const say = (line: string) => process.stdout.write(`alerts: ${line}\n`);

/**
 * The project's rules, as they are, except LedgerBacklogStale's threshold: 30 minutes in production, 5 seconds for a
 * test's patience. Its expression, labels and annotations are the file's (promtool tests the 30 minutes).
 */
function rulesWithShortLedgerThreshold(): string {
  const doc = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
  const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === 'LedgerBacklogStale')!;
  expect(rule.expr).toMatch(/ > 1800$/);
  rule.expr = rule.expr.replace(/ > 1800$/, ' > 5');
  const file = join(mkdtempSync(join(tmpdir(), 'rules-')), 'rules.yml');
  writeFileSync(file, stringify(doc));
  return file;
}

let cluster: TemporalCluster;
let sandboxes: Sandboxes;
let connection: Connection;
let client: Client;
let prometheus: LocalPrometheus;
const workers: ServiceProcess[] = [];
const metricsTargets: string[] = [];

beforeAll(async () => {
  cluster = await startTemporalCluster({ serverLogFile: join(PROJECT_ROOT, 'test-artifacts', 'cluster', 'alerts-temporal-server.log'), log: say });
  sandboxes = await startSandboxes({ spreadsheetId: 'alerts-ledger' });
  connection = await Connection.connect({ address: cluster.address });
  client = new Client({ connection, namespace: cluster.namespace });
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    metricsTargets.push(`127.0.0.1:${port}`);
    workers.push(
      await startServiceProcess('worker', {
        PATH: process.env.PATH,
        ...sandboxes.env,
        TEMPORAL_ADDRESS: cluster.address,
        TEMPORAL_NAMESPACE: cluster.namespace,
        WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
        LEDGER_BATCH_WINDOW: '200ms',
        METRICS_PORT: String(port),
        BACKLOG_SAMPLE_INTERVAL: '1s',
      }),
    );
  }
  prometheus = await startPrometheus({
    workers: metricsTargets,
    ruleFiles: [rulesWithShortLedgerThreshold()],
    intervalSeconds: 1,
    logFile: join(PROJECT_ROOT, 'test-artifacts', 'cluster', 'prometheus.log'),
  });
});

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all(workers.map((w) => w.stop()));
  await connection?.close();
  await cluster?.stop();
  await sandboxes?.stop();
});

interface Target {
  scrapeUrl: string;
  health: string;
}
interface Alert {
  labels: { alertname: string };
  state: string;
}
const alertState = async (name: string) => (await prometheusApi<{ alerts: Alert[] }>(prometheus, '/api/v1/alerts')).alerts.find((a) => a.labels.alertname === name)?.state;

test('Prometheus scrapes every worker and has loaded every rule of the file', async () => {
  await eventually(
    async () => {
      const { activeTargets } = await prometheusApi<{ activeTargets: Target[] }>(prometheus, '/api/v1/targets');
      return activeTargets.length === metricsTargets.length && activeTargets.every((t) => t.health === 'up');
    },
    'both workers scraped',
    60_000,
    500,
  );
  const { groups } = await prometheusApi<{ groups: { rules: { type: string; name: string }[] }[] }>(prometheus, '/api/v1/rules');
  const loaded = groups.flatMap((g) => g.rules);
  const inFile = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules);
  expect(loaded).toHaveLength(inFile.length);
  // The workers' own backlog gauges arrive: each worker sampled at least once.
  await eventually(
    async () => {
      const { result } = await prometheusApi<{ result: unknown[] }>(prometheus, `/api/v1/query?query=${encodeURIComponent('tempo_armado_sync_backlog_sampled_timestamp_seconds')}`);
      return result.length === metricsTargets.length;
    },
    'both workers sampling the backlog',
    60_000,
    500,
  );
});

test('Sheets refusing every call: LedgerBacklogStale fires; Sheets back: the rows are written and it resolves', async () => {
  expect(await alertState('LedgerBacklogStale')).toBeUndefined();
  sandboxes.google.server.injectFault({ path: '/v4/spreadsheets', status: 503, times: 1_000_000 });
  const runs = await Promise.all(
    ['610001', '610002', '610003'].map((id) => {
      addInvoice(sandboxes, id);
      return startPaymentSync(
        client,
        { invoiceNumber: id, paymentMode: 'virement', paymentDate: '2024-01-15', tempoStatus: 200, amount: 100 },
        { taskQueue: 'payment-sync', defaultDossier: sandboxes.env.TEMPO_DOSSIER as string },
      );
    }),
  );
  const outageStarted = Date.now();
  await eventually(async () => (await alertState('LedgerBacklogStale')) === 'firing', 'LedgerBacklogStale firing', 120_000, 500);
  say(`LedgerBacklogStale firing ${((Date.now() - outageStarted) / 1000).toFixed(1)} s into the Sheets outage`);

  sandboxes.google.server.clearFaults();
  const back = Date.now();
  const results = (await Promise.all(runs.map((r) => r.handle.result()))) as PaymentSyncResult[];
  expect(results.map((r) => r.outcome)).toEqual(['synced', 'synced', 'synced']);
  await eventually(async () => (await alertState('LedgerBacklogStale')) === undefined, 'LedgerBacklogStale resolved', 120_000, 500);
  say(`resolved ${((Date.now() - back) / 1000).toFixed(1)} s after Sheets came back`);
  expect(ledgerInvoices(sandboxes)).toEqual(['610001', '610002', '610003']);
});
