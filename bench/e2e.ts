// `npm run bench`: payments end to end — started, synced in Armado, written in the ledger — against the
// sandboxes with realistic latencies (Tempo 80 ms, Armado 120 ms, Sheets 200 ms) and Google's 60 writes/min
// quota, on each Temporal the service runs on, and a seed-style sequential baseline in the same run.
//   BENCH_N (1000)         payments per Temporal target, 80 % of them settle their invoice
//   BENCH_TARGETS          embedded,cluster,baseline (any subset, in that order)
//   BENCH_BASELINE_N (120) payments of the baseline (sequential; past 60 it meets the quota)
//   BENCH_SCALE            e.g. 1000,5000,10000: the embedded target once per size, then the cost per payment
//                          of each size against the first (the work must cost the same per payment as it grows)
//   BENCH_WORKER_ENV       extra worker settings, e.g. WORKER_MAX_CACHED_WORKFLOWS=100 (comma-separated)
// Prints a table; asserts nothing, but says when a payment did not end exactly right.
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startPaymentSync } from '../src/client/payment-sync-client';
import { ArmadoClient } from '../src/apis/armado';
import { SheetsClient } from '../src/apis/sheets';
import { TempoClient } from '../src/apis/tempo';
import { loadConfig } from '../src/config';
import { startSandboxes, type Sandboxes } from '../dev/sandbox';
import { startServiceProcess, type ServiceProcess } from '../dev/scripts/service-processes';
import { startTemporalCluster } from '../dev/cluster/cluster';
import { startDevServer } from '../src/temporal/dev-server';

const N = Number(process.env.BENCH_N ?? 1000);
const BASELINE_N = Number(process.env.BENCH_BASELINE_N ?? 120);
const TARGETS = (process.env.BENCH_TARGETS ?? 'embedded,cluster,baseline').split(',');
const say = (line: string) => process.stderr.write(`${line}\n`);

interface Figures {
  target: string;
  payments: number;
  wallS: number;
  perS: number;
  p50S: number;
  p99S: number;
  sheetsWrites: number;
  quota429: number;
  workerCpuS: number;
  workerPeakMiB: number;
  /** The embedded server's CPU seconds over the run (the other half of the machine). */
  serverCpuS: number;
  /** History events per payment: its own run's, and its share of the ledger writer's (all its runs). */
  eventsPerPayment: number;
  writerEventsPerPayment: number;
  /** Workflow tasks per payment (a sample of runs' histories), and the writer's share. */
  tasksPerPayment: number;
  writerTasksPerPayment: number;
  exact: string;
}

/** How many payment runs' histories are fetched to count their workflow tasks. */
const TASK_SAMPLE = 200;

async function historyFigures(client: Client, n: number): Promise<Pick<Figures, 'eventsPerPayment' | 'writerEventsPerPayment' | 'tasksPerPayment' | 'writerTasksPerPayment'>> {
  const historyOf = async (workflowId: string, runId: string) => (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  let events = 0;
  const all: { workflowId: string; runId: string }[] = [];
  for await (const w of client.workflow.list({ query: 'WorkflowType="paymentSyncWorkflow"' })) {
    events += w.historyLength;
    all.push({ workflowId: w.workflowId, runId: w.runId });
  }
  // Spread over the whole burst: the first runs and the last ones do not wait alike.
  const sample = all.filter((_, i) => i % Math.max(1, Math.floor(all.length / TASK_SAMPLE)) === 0).slice(0, TASK_SAMPLE);
  let sampleTasks = 0;
  // The sample's longest history, by event type: where the extra events of a loaded worker come from.
  let longest: string[] = [];
  /** Runs that queued their row again: the writer's backlog they were told, and how long they had waited. */
  const requeued: { toldS: number; waitedS: number }[] = [];
  for (const run of sample) {
    const events = await historyOf(run.workflowId, run.runId);
    sampleTasks += events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    if (events.length > longest.length) longest = events.map((e) => String(temporal.api.enums.v1.EventType[e.eventType ?? 0]).replace('EVENT_TYPE_', ''));
    const queued = events.filter((e) => {
      const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
      return data && (JSON.parse(Buffer.from(data).toString()) as { activity_type?: string }).activity_type === 'updatePaymentSheet';
    });
    if (queued.length > 1) {
      const result = queued[0]?.markerRecordedEventAttributes?.details?.result?.payloads?.[0]?.data;
      const told = result ? ((JSON.parse(Buffer.from(result).toString()) as { writerBacklogMs?: number }).writerBacklogMs ?? 0) : 0;
      const timer = events.find((e) => Number(e.eventId) > Number(queued[0]?.eventId) && e.timerStartedEventAttributes)?.timerStartedEventAttributes;
      requeued.push({ toldS: told / 1000, waitedS: Number(timer?.startToFireTimeout?.seconds ?? 0) });
    }
  }
  say(`longest sampled payment history (${longest.length} events): ${longest.join(' ')}`);
  const range = (xs: number[]) => (xs.length ? `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} s` : '-');
  say(
    `sampled runs that queued their row again: ${requeued.length} of ${sample.length}; backlog they were told ${range(requeued.map((r) => r.toldS))}, first wait ${range(requeued.map((r) => r.waitedS))}`,
  );
  let writerEvents = 0;
  let writerTasks = 0;
  // Read from the histories: visibility gives a running execution's length as 0.
  const published: { rows: number; rowsPerSecond: number | null }[] = [];
  let writerRuns = 0;
  for await (const w of client.workflow.list({ query: 'WorkflowType="paymentLedgerWorkflow"' })) {
    const events = await historyOf(w.workflowId, w.runId);
    writerRuns += 1;
    writerEvents += events.length;
    writerTasks += events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    for (const e of events) {
      const data = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.ledgerBacklog?.data;
      if (data) published.push(JSON.parse(Buffer.from(data).toString()) as { rows: number; rowsPerSecond: number | null });
    }
  }
  const paces = published.map((p) => p.rowsPerSecond).filter((p): p is number => p !== null);
  say(
    `ledger writer: ${writerRuns} run(s); backlog published ${published.length} times, at most ${Math.max(0, ...published.map((p) => p.rows))} rows; pace ${paces.length ? `${Math.min(...paces).toFixed(0)}–${Math.max(...paces).toFixed(0)}` : '-'} rows/s`,
  );
  return {
    eventsPerPayment: events / n,
    writerEventsPerPayment: writerEvents / n,
    tasksPerPayment: sampleTasks / Math.max(1, sample.length),
    writerTasksPerPayment: writerTasks / n,
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** CPU seconds (user + system) and peak resident memory of a process, from /proc (Linux). */
function usage(pid: number): { cpuS: number; peakMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / 100, peakMiB: Number(hwm?.[1] ?? 0) / 1024 };
}

/** The processes whose command line contains `text` (the dev server, found by its database file). */
function pidsMatching(text: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function apis(spreadsheetId: string, invoices: string[]): Promise<Sandboxes> {
  const sandboxes = await startSandboxes({ spreadsheetId });
  sandboxes.tempo.server.latencyMs = 80;
  sandboxes.armado.server.latencyMs = 120;
  sandboxes.google.server.latencyMs = 200;
  sandboxes.google.writeQuotaPerMinute = 60;
  for (const [i, id] of invoices.entries()) {
    sandboxes.tempo.addInvoice(id, 100);
    if (settles(i)) sandboxes.tempo.invoice(id)!.RegleeTotale = 'OUI';
    sandboxes.armado.addBill(id);
  }
  return sandboxes;
}
const settles = (i: number) => i % 5 !== 4; // 80 %

/** Every invoice has one ledger row with the right status; every settled bill got exactly one PUT. */
function exactness(sandboxes: Sandboxes, invoices: string[]): string {
  const rows = new Map<string, string[][]>();
  for (const r of sandboxes.google.rows(sandboxes.spreadsheetId).slice(1)) rows.set(r[0] as string, [...(rows.get(r[0] as string) ?? []), r as string[]]);
  let wrong = 0;
  for (const [i, id] of invoices.entries()) {
    const own = rows.get(id) ?? [];
    const puts = sandboxes.armado.putsFor(id);
    if (own.length !== 1 || own[0]![1] !== (settles(i) ? 'Payée' : 'Partiellement payée') || puts !== (settles(i) ? 1 : 0)) wrong += 1;
  }
  return wrong === 0 ? 'all' : `${wrong} WRONG`;
}

const WORKER_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_WORKER_ENV ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

async function onTemporal(target: string, address: string, workers: number, n = N, serverPids: number[] = []): Promise<Figures> {
  const N = n;
  const invoices = Array.from({ length: N }, (_, i) => String(300000 + i));
  const sandboxes = await apis(`bench-${target.split(' ')[0]}-${N}`, invoices);
  const env = { PATH: process.env.PATH, ...sandboxes.env, TEMPORAL_ADDRESS: address, METRICS_PORT: '0', LOG_LEVEL: 'WARN', ...WORKER_ENV };
  const config = loadConfig(env);
  const processes: ServiceProcess[] = [];
  for (let i = 0; i < workers; i++) processes.push(await startServiceProcess('worker', { ...env, LOG_LEVEL: 'INFO' }));
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const options = { taskQueue: config.temporal.taskQueue, defaultDossier: config.tempo.dossier };
  const before = processes.map((p) => usage(p.child.pid!));
  const serverBefore = serverPids.map((pid) => usage(pid).cpuS);
  const began = Date.now();
  // As the Tempo integration would: payments arrive from many callers at once (50 in flight).
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < N) {
        const id = invoices[next++] as string;
        await startPaymentSync(
          client,
          { invoiceNumber: id, paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200, amount: 100, paymentId: `bench-${target.split(' ')[0]}` },
          options,
        );
      }
    }),
  );
  const query = `WorkflowType="paymentSyncWorkflow"`;
  for (;;) {
    const running = (await client.workflow.count(`${query} AND ExecutionStatus="Running"`)).count;
    if (running === 0 && (await client.workflow.count(query)).count >= N) break;
    // The wall time comes from the runs' close times: polling less often only spares the server (each count reads
    // the whole visibility table, which at 10,000 runs is work of its own).
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const latencies: number[] = [];
  let lastClose = began;
  for await (const w of client.workflow.list({ query })) {
    latencies.push((w.closeTime!.getTime() - w.startTime.getTime()) / 1000);
    lastClose = Math.max(lastClose, w.closeTime!.getTime());
  }
  latencies.sort((a, b) => a - b);
  const after = processes.map((p) => usage(p.child.pid!));
  const serverCpuS = serverPids.reduce((sum, pid, i) => sum + usage(pid).cpuS - (serverBefore[i] as number), 0);
  const wallS = (lastClose - began) / 1000;
  const history = await historyFigures(client, N);
  const figures: Figures = {
    target,
    payments: N,
    wallS,
    perS: N / wallS,
    p50S: percentile(latencies, 50),
    p99S: percentile(latencies, 99),
    sheetsWrites: sandboxes.google.writeRequests,
    quota429: sandboxes.google.quotaRejections,
    workerCpuS: after.reduce((n, u, i) => n + u.cpuS - before[i]!.cpuS, 0),
    workerPeakMiB: Math.max(...after.map((u) => u.peakMiB)),
    serverCpuS,
    ...history,
    exact: exactness(sandboxes, invoices),
  };
  await Promise.all(processes.map((p) => p.stop()));
  await connection.close();
  await sandboxes.stop();
  return figures;
}

/** What the seed script did: one invoice after another, each call retried in memory (429: wait, try again). */
async function baseline(): Promise<Figures> {
  const invoices = Array.from({ length: BASELINE_N }, (_, i) => String(400000 + i));
  const sandboxes = await apis('bench-baseline', invoices);
  const config = loadConfig(sandboxes.env);
  const tempo = new TempoClient(config.tempo);
  const armado = new ArmadoClient(config.armado);
  const sheets = new SheetsClient(config.sheets);
  const sheet = config.sheets.sheetName;
  const retried = async <T>(call: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await call();
      } catch {
        await new Promise((r) => setTimeout(r, 1_000)); // the seed's fixed pause
      }
    }
  };
  const cpu = process.cpuUsage();
  const began = Date.now();
  const latencies: number[] = [];
  for (const id of invoices) {
    const t = Date.now();
    const invoice = await retried(() => tempo.getInvoice(config.tempo.dossier, id));
    const status = invoice.fullyPaid ? 'Payée' : 'Partiellement payée';
    const rows = await retried(() => sheets.readValues(config.sheets.spreadsheetId, `${sheet}!A:A`));
    const at = rows.findIndex((r) => r[0] === id);
    const row = at >= 0 ? at + 1 : Math.max(rows.length, 1) + 1;
    await retried(() => sheets.batchUpdate(config.sheets.spreadsheetId, [{ range: `${sheet}!A${row}:F${row}`, values: [[id, status, 'Virement', '2024-01-15 10:30', '', '']] }]));
    if (invoice.fullyPaid) {
      const [bill] = await retried(() => armado.searchBills(id));
      await retried(() => armado.updateBillPayment(bill!.id, { paymentType: 2, paymentDate: '2024-01-15T10:30:00.000000' }, id));
    }
    latencies.push((Date.now() - t) / 1000);
  }
  const wallS = (Date.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  const figures: Figures = {
    target: 'baseline (seed-style, sequential)',
    payments: BASELINE_N,
    wallS,
    perS: BASELINE_N / wallS,
    // Start-to-synced as the Tempo integration sees it: a payment waits for every one before it.
    p50S: latencies.slice(0, Math.ceil(BASELINE_N / 2)).reduce((a, b) => a + b, 0),
    p99S: latencies.slice(0, Math.ceil(BASELINE_N * 0.99)).reduce((a, b) => a + b, 0),
    sheetsWrites: sandboxes.google.writeRequests,
    quota429: sandboxes.google.quotaRejections,
    workerCpuS: (used.user + used.system) / 1e6,
    workerPeakMiB: process.memoryUsage().rss / 1024 / 1024,
    serverCpuS: NaN,
    eventsPerPayment: NaN,
    writerEventsPerPayment: NaN,
    tasksPerPayment: NaN,
    writerTasksPerPayment: NaN,
    exact: exactness(sandboxes, invoices),
  };
  await sandboxes.stop();
  return figures;
}

async function embedded(n: number): Promise<Figures> {
  // What `npm start` runs: the dev server persisted to a file, one worker.
  const dir = mkdtempSync(join(tmpdir(), 'bench-embedded-'));
  const durable = process.env.TEMPORAL_DB_DURABLE === '1';
  const server = await startDevServer({ dbFilename: join(dir, 'temporal.db'), quiet: true, durableCommits: durable });
  try {
    return await onTemporal(
      `embedded (npm start: dev server, SQLite file${durable ? ', durable commits' : ''}, 1 worker)`,
      server.address,
      1,
      n,
      pidsMatching(join(dir, 'temporal.db')),
    );
  } finally {
    await server.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

function printTable(results: Figures[]): void {
  const header = [
    'target',
    'payments',
    'wall s',
    'payments/s',
    'p50 s',
    'p99 s',
    'events/payment (own + writer)',
    'workflow tasks/payment (own + writer)',
    'Sheets writes',
    '429s',
    'worker CPU s',
    'server CPU s',
    'worker peak MiB',
    'exact',
  ];
  process.stdout.write(`${line(header)}\n${line(header.map(() => '---'))}\n`);
  for (const f of results) {
    const events = Number.isNaN(f.eventsPerPayment)
      ? '–'
      : `${(f.eventsPerPayment + f.writerEventsPerPayment).toFixed(1)} (${f.eventsPerPayment.toFixed(1)} + ${f.writerEventsPerPayment.toFixed(1)})`;
    const tasks = Number.isNaN(f.tasksPerPayment)
      ? '–'
      : `${(f.tasksPerPayment + f.writerTasksPerPayment).toFixed(2)} (${f.tasksPerPayment.toFixed(2)} + ${f.writerTasksPerPayment.toFixed(2)})`;
    process.stdout.write(
      `${line([f.target, f.payments, f.wallS.toFixed(1), f.perS.toFixed(1), f.p50S.toFixed(1), f.p99S.toFixed(1), events, tasks, f.sheetsWrites, f.quota429, f.workerCpuS.toFixed(1), Number.isNaN(f.serverCpuS) ? '–' : f.serverCpuS.toFixed(1), f.workerPeakMiB.toFixed(0), f.exact])}\n`,
    );
  }
}

/** Time and worker CPU per payment at each size, against the first size's. */
function printScaling(results: Figures[]): void {
  const first = results[0] as Figures;
  const header = ['payments', 'ms/payment (wall)', '× first', 'worker CPU ms/payment', '× first', 'p50 s', 'p99 s', 'worker peak MiB', 'Sheets writes', '429s', 'exact'];
  process.stdout.write(`\n${line(header)}\n${line(header.map(() => '---'))}\n`);
  for (const f of results) {
    const wall = (1000 * f.wallS) / f.payments;
    const cpu = (1000 * f.workerCpuS) / f.payments;
    const wall0 = (1000 * first.wallS) / first.payments;
    const cpu0 = (1000 * first.workerCpuS) / first.payments;
    process.stdout.write(
      `${line([f.payments, wall.toFixed(1), (wall / wall0).toFixed(2), cpu.toFixed(1), (cpu / cpu0).toFixed(2), f.p50S.toFixed(1), f.p99S.toFixed(1), f.workerPeakMiB.toFixed(0), f.sheetsWrites, f.quota429, f.exact])}\n`,
    );
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const results: Figures[] = [];
  const scale = (process.env.BENCH_SCALE ?? '').split(',').filter(Boolean).map(Number);
  if (scale.length > 0) {
    say(
      `scaling benchmark on the embedded default: ${scale.join(', ')} payments (80 % settle their invoice)${Object.keys(WORKER_ENV).length ? `, worker ${JSON.stringify(WORKER_ENV)}` : ''}`,
    );
    for (const n of scale) {
      results.push(await embedded(n));
      say(JSON.stringify(results.at(-1)));
    }
    printTable(results);
    printScaling(results);
    return;
  }
  say(`end-to-end benchmark: ${N} payments per Temporal target (80 % settle their invoice), Tempo 80 ms, Armado 120 ms, Sheets 200 ms, 60 Sheets writes/min`);
  if (TARGETS.includes('embedded')) {
    results.push(await embedded(N));
    say(JSON.stringify(results.at(-1)));
  }
  if (TARGETS.includes('cluster')) {
    const cluster = await startTemporalCluster();
    results.push(await onTemporal('cluster (npm run cluster: PostgreSQL, 2 workers)', cluster.address, 2));
    say(JSON.stringify(results.at(-1)));
    await cluster.stop();
  }
  if (TARGETS.includes('baseline')) {
    results.push(await baseline());
    say(JSON.stringify(results.at(-1)));
  }
  printTable(results);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
