// The worker as a real process (the build, as in the container): its Prometheus /metrics after real runs,
// its JSON log lines (none carrying a secret), and a graceful SIGTERM while an activity is in flight.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startPaymentSync } from '../../src/client/payment-sync-client';
import type { ReconcileSummary } from '../../src/domain/reconciliation';
import { reconcileNow, reconcileScheduleId } from '../../src/operations/reconcile';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/dev-server';
import { retryArmadoNowSignal, statusQuery } from '../../src/workflows/contract';
import { addInvoice } from '../helpers/e2e';
import { startWorkerProcess, useProcessRig, type WorkerProcess } from '../helpers/worker-process';
import { eventually } from '../helpers/eventually';
import { localStepRecords } from '../helpers/history';
import { ruleReads } from '../helpers/promql';

const rig = useProcessRig('obs');

interface MeteredWorker extends WorkerProcess {
  metricsPort: number;
}

async function startWorker(env: Record<string, string> = {}): Promise<MeteredWorker> {
  const metricsPort = await freePort();
  const worker = await startWorkerProcess(rig.sandboxes, rig.taskQueue, {
    ARMADO_BILL_RETRY_INTERVAL: '1h',
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'INFO',
    BACKLOG_SAMPLE_INTERVAL: '1s',
    ...env,
  });
  return { ...worker, metricsPort };
}

const start = (invoiceNumber: string, extra: Record<string, unknown> = {}) =>
  startPaymentSync(
    rig.client,
    { invoiceNumber, paymentMode: 'virement', paymentDate: '2024-01-15', tempoStatus: 200, amount: 10, ...extra },
    { taskQueue: rig.taskQueue, defaultDossier: rig.sandboxes.env.TEMPO_DOSSIER as string },
  );

/** `name{labels} value` lines of a Prometheus text exposition, as a lookup. */
function parseMetrics(text: string): (name: string, labels?: Record<string, string>) => number {
  const samples = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)/.exec(l);
      const labels = Object.fromEntries([...(m?.[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      return { name: m?.[1] ?? '', labels, value: Number(m?.[4]) };
    });
  return (name, labels = {}) => samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

describe('a worker process', () => {
  let worker: MeteredWorker;
  let metricsText = '';
  let metricsAfterReconcile = '';
  let reconciliation: ReconcileSummary;
  let calls = { armado200: 0, sheets: 0 };
  beforeAll(async () => {
    worker = await startWorker();
    // Synced ×2, partially paid ×1, ambiguous ×1, Armado key refused ×1, a bill found only after two searches.
    const synced = [addInvoice(rig.sandboxes, '93001'), addInvoice(rig.sandboxes, '93002')];
    const partial = addInvoice(rig.sandboxes, '93003', { fullyPaid: false });
    const ambiguous = addInvoice(rig.sandboxes, '93004', { bills: 2 });
    const late = addInvoice(rig.sandboxes, '93005', { bills: 0 });
    const runs = await Promise.all([...synced, partial, ambiguous].map((id) => start(id)));
    const lateRun = await start(late);
    await Promise.all(runs.map((r) => r.handle.result().catch(() => undefined)));
    await eventually(async () => (await lateRun.handle.query(statusQuery)).steps.findArmadoBill.state === 'waiting', 'the late run to wait for its bill');
    await lateRun.handle.signal(retryArmadoNowSignal);
    const searchesOfLate = () => rig.sandboxes.armado.server.requests.filter((r) => r.method === 'GET' && r.query === `?reference=${late}`).length;
    await eventually(() => searchesOfLate() === 2, 'the second search of the late bill');
    rig.sandboxes.armado.addBill(late);
    await lateRun.handle.signal(retryArmadoNowSignal);
    await lateRun.handle.result();

    const goodKey = rig.sandboxes.armado.apiKey;
    rig.sandboxes.armado.apiKey = 'rotated';
    const refused = await start(addInvoice(rig.sandboxes, '93006'));
    await refused.handle.result().catch(() => undefined);
    rig.sandboxes.armado.apiKey = goodKey;

    // The exporter publishes on its own schedule: wait until the last outcome shows.
    await eventually(async () => {
      const res = await request(`http://127.0.0.1:${worker.metricsPort}/metrics`);
      metricsText = await res.body.text();
      return parseMetrics(metricsText)('tempo_armado_sync_payments', { outcome: 'failed', failure_type: 'ArmadoAuthFailed' }) === 1;
    }, 'the last outcome in /metrics');

    calls = {
      armado200: rig.sandboxes.armado.server.count('GET', '/v1/bill') + rig.sandboxes.armado.server.count('PUT', '/v1/bill') - 1,
      sheets: rig.sandboxes.google.server.count('GET', '/v4/') + rig.sandboxes.google.server.count('POST', '/v4/'),
    };
    // Then a reconciliation on this worker (after the scrape above, whose API counts it would change).
    reconciliation = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: false });
    await eventually(async () => {
      const res = await request(`http://127.0.0.1:${worker.metricsPort}/metrics`);
      metricsAfterReconcile = await res.body.text();
      const metric = parseMetrics(metricsAfterReconcile);
      // The counter at the run's end, the gauge once the worker's backlog sampler has seen the run completed.
      return metric('tempo_armado_sync_reconcile_drift') > 0 && metric('tempo_armado_sync_reconcile_last_completed_timestamp_seconds') > 0;
    }, 'the reconciliation in /metrics');
  });

  afterAll(async () => {
    // Its own exit, so that the SIGTERM test below has the task queue to itself.
    const exited = new Promise((resolve) => worker.child.once('exit', resolve));
    worker.child.kill('SIGTERM');
    await exited;
  });

  test('/metrics has the SDK metrics and the business counters with the right values', () => {
    mkdirSync(join(PROJECT_ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(join(PROJECT_ROOT, 'test-artifacts', 'worker-metrics.txt'), metricsText);
    const metric = parseMetrics(metricsText);
    expect(metricsText).toMatch(/^temporal_workflow_completed\{/m); // the SDK's own
    expect(metric('tempo_armado_sync_payments', { outcome: 'synced' })).toBe(3);
    expect(metric('tempo_armado_sync_payments', { outcome: 'partially-paid' })).toBe(1);
    expect(metric('tempo_armado_sync_payments', { outcome: 'failed', failure_type: 'ArmadoBillAmbiguous' })).toBe(1);
    expect(metric('tempo_armado_sync_payments', { outcome: 'failed', failure_type: 'ArmadoAuthFailed' })).toBe(1);
    expect(metric('tempo_armado_sync_armado_bill_ambiguous')).toBe(1);
    expect(metric('tempo_armado_sync_armado_bill_not_found')).toBe(2);
    expect(metric('tempo_armado_sync_auth_failures', { system: 'armado' })).toBe(1);
    expect(metric('tempo_armado_sync_auth_failures', { system: 'tempo' })).toBe(0);
    // Latency per system: one histogram sample per HTTP call.
    expect(metric('tempo_armado_sync_api_request_duration_count', { system: 'tempo', status: '200' })).toBe(6);
    expect(metric('tempo_armado_sync_api_request_duration_count', { system: 'armado', status: '401' })).toBe(1);
    expect(metric('tempo_armado_sync_api_request_duration_count', { system: 'armado', status: '200' })).toBe(calls.armado200);
    expect(metric('tempo_armado_sync_api_request_duration_count', { system: 'sheets' })).toBe(calls.sheets);
    expect(metric('tempo_armado_sync_api_request_duration_bucket', { system: 'tempo', le: '+Inf' })).toBe(6);
  });

  test('the worker set up the nightly Schedule at start, and a reconciliation counts its drift by kind in /metrics', async () => {
    const schedule = await rig.client.schedule.getHandle(reconcileScheduleId(rig.taskQueue)).describe();
    expect(schedule.action).toMatchObject({ workflowType: 'reconcilePaymentsWorkflow', taskQueue: rig.taskQueue, memo: { cron: '0 3 * * *', timeZone: 'Europe/Paris' } });
    const entries = worker
      .output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.find((e) => e.msg === 'reconciliation schedule')).toMatchObject({ change: 'created', cron: '0 3 * * *' });
    // The ambiguous bill and the refused key: their last runs failed.
    expect(reconciliation.drift).toEqual({ 'last-run-failed': 2 });
    const metric = parseMetrics(metricsAfterReconcile);
    expect(metric('tempo_armado_sync_reconcile_drift', { kind: 'last-run-failed' })).toBe(2);
    expect(metric('tempo_armado_sync_reconcile_syncs_started')).toBe(0);
  });

  test('every metric and label the alerting rules read is exported (deploy/prometheus/rules.yml)', () => {
    const exported = metricsAfterReconcile
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => {
        const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? /.exec(l);
        return { name: m?.[1] ?? '', labels: [...(m?.[2] ?? '').matchAll(/(\w+)="/g)].map((x) => x[1] as string) };
      });
    const reads = ruleReads(join(PROJECT_ROOT, 'deploy', 'prometheus', 'rules.yml'));
    expect(reads.length).toBeGreaterThanOrEqual(15);
    const missing = reads.flatMap(({ rule, metrics, labels }) => [
      // `up` is Prometheus's own series about its targets, not the worker's.
      ...metrics.filter((name) => name !== 'up' && !exported.some((e) => e.name === name)).map((name) => `${rule}: metric ${name}`),
      ...labels.filter((label) => !metrics.includes('up') && !exported.some((e) => metrics.includes(e.name) && e.labels.includes(label))).map((label) => `${rule}: label ${label}`),
    ]);
    expect(missing).toEqual([]);
    // The backlog gauges, sampled by this worker: everything here has ended.
    const metric = parseMetrics(metricsAfterReconcile);
    expect(metric('tempo_armado_sync_open_payments', { waiting_for: 'bill' })).toBe(0);
    expect(metric('tempo_armado_sync_ledger_backlog_rows')).toBe(0);
    expect(metric('tempo_armado_sync_reconcile_last_drift', { kind: 'last-run-failed' })).toBe(2);
    expect(metric('tempo_armado_sync_backlog_visibility_calls')).toBeGreaterThan(0);
  });

  test('every log line is one JSON object; activity lines carry workflowId, runId, invoice, activity, attempt', () => {
    const lines = worker.output().trim().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.every((e) => typeof e.time === 'string' && typeof e.level === 'string' && typeof e.msg === 'string')).toBe(true);
    const marked = entries.find((e) => e.msg === 'Armado bill marked paid' && e.invoice === '93001');
    expect(marked).toMatchObject({
      level: 'INFO',
      workflowId: expect.stringMatching(/^payment-sync-DEMO-93001-/),
      runId: expect.any(String),
      activity: 'updateArmadoBillPayment',
      attempt: 1,
      billId: expect.any(String),
    });
    expect(entries.find((e) => e.msg === 'payment sync failed' && e.invoice === '93004')).toMatchObject({
      level: 'WARN',
      workflowId: expect.any(String),
      runId: expect.any(String),
      failureType: 'ArmadoBillAmbiguous',
    });
    expect(entries.filter((e) => e.msg === 'no Armado bill with this reference yet' && e.invoice === '93005')).toHaveLength(2);
  });

  test('the container health check passes against this worker, and fails where nothing listens', async () => {
    const check = (port: number) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'scripts', 'healthcheck.js'), 'worker'], {
          env: { PATH: process.env.PATH, METRICS_PORT: String(port) },
        });
        child.once('exit', (code) => resolve(code ?? 1));
      });
    expect(await check(worker.metricsPort)).toBe(0);
    expect(await check(await freePort())).toBe(1);
  });

  test('the worker ran the pre-built bundle (WORKFLOW_BUNDLE) instead of bundling at start', () => {
    expect(worker.output()).not.toMatch(/webpack|bundle created|Workflow bundle/i);
  });

  test('no secret in any log line', () => {
    const out = worker.output();
    const { username, password } = rig.sandboxes.tempo.credentials;
    const privateKey = (JSON.parse(readFileSync(rig.sandboxes.env.GOOGLE_APPLICATION_CREDENTIALS as string, 'utf8')) as { private_key: string }).private_key;
    for (const secret of [
      password,
      rig.sandboxes.armado.apiKey,
      'rotated',
      Buffer.from(`${username}:${password}`).toString('base64'),
      ...privateKey.split('\n').filter((l) => l.length > 20),
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).not.toMatch(/Bearer [A-Za-z0-9._-]{10,}/);
    expect(out).not.toContain('"taskToken"');
  });
});

test('SIGTERM: polling stops, the activity in flight finishes, the process exits 0', async () => {
  const worker = await startWorker({ WORKER_SHUTDOWN_GRACE: '20s' });
  const id = addInvoice(rig.sandboxes, '93101');
  rig.sandboxes.armado.server.latencyMs = 1_500; // the Armado steps take a few seconds
  try {
    const { handle } = await start(id);
    // Stop while the PUT is on the wire (Armado answers 1.5 s later).
    const billPath = `/v1/bill/${rig.sandboxes.armado.billsWithReference(id)[0]!.id}`;
    await eventually(() => rig.sandboxes.armado.server.arrivals.some((r) => r.method === 'PUT' && r.path === billPath), 'the PUT in flight');
    const exited = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
    const stoppedAt = Date.now();
    worker.child.kill('SIGTERM');
    // Once the worker says it is stopping (the signal is handled asynchronously), it takes no new task.
    await eventually(() => worker.output().includes('"state":"STOPPING"'), 'the worker to start stopping');
    const after = await start(addInvoice(rig.sandboxes, '93102'));
    expect(await exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(20_000);
    expect(rig.sandboxes.armado.putsFor(id)).toBe(1); // the in-flight PUT was allowed to finish
    expect(worker.output()).toContain('"msg":"worker stopped"');

    const events = (await handle.fetchHistory()).events ?? [];
    // The step is recorded once, by the stopping worker (it finished in flight) or by the next one (which read the
    // bill, found the payment there, and sent nothing: the PUT count above).
    expect(localStepRecords(events, 'updateArmadoBillPayment').filter((r) => !r.failed)).toHaveLength(1);
    const pid = String(worker.child.pid);
    const afterEvents = (await after.handle.fetchHistory()).events ?? [];
    expect(afterEvents.some((e) => (e.workflowTaskStartedEventAttributes?.identity ?? '').startsWith(`${pid}@`))).toBe(false);

    // A new worker finishes both runs.
    rig.sandboxes.armado.server.latencyMs = 0;
    const next = await startWorker();
    await expect(handle.result()).resolves.toMatchObject({ outcome: 'synced' });
    await expect(after.handle.result()).resolves.toMatchObject({ outcome: 'synced' });
    expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
    next.child.kill('SIGTERM');
  } finally {
    rig.sandboxes.armado.server.latencyMs = 0;
  }
});
