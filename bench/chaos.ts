// Chaos run (issue 9): payments on a real dev server persisted to a file while a share of every API call
// fails (503/429), some writes are applied with their answer lost, the worker is SIGKILLed and restarted
// again and again and the dev server is restarted once. Then: every run completed, one ledger row per invoice
// with the right status, one applied PUT per fully paid bill with the latest payment. `npm run chaos` (N=500)
// prints the figures (CHAOS_N payments, CHAOS_FAIL_RATE of API calls refused, CHAOS_KILLS, CHAOS_SEED), among them when
// the ledger got its rows; test/e2e/chaos.test.ts runs it small in `npm run test:long`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startPaymentSync, type StartedPaymentSync } from '../src/client/payment-sync-client';
import type { PaymentSyncResult } from '../src/domain/shapes';
import { resetRun } from '../src/operations/reset';
import { startSandboxes, type Sandboxes } from '../dev/sandbox';
import { PROJECT_ROOT } from '../src/temporal/binaries';
import { freePort, startDevServer } from '../src/temporal/dev-server';

export interface ChaosOptions {
  invoices: number;
  /** Share of invoices paid in two payments (a partial, then the settling one later). */
  splitShare: number;
  failRate: number;
  loseReplyRate: number;
  workerKills: number;
  seed: number;
  /** The worker's built entry point and bundle (the test's global setup, or the launcher's build). */
  workflowBundle?: string;
  log?: (line: string) => void;
}

export interface ChaosReport {
  payments: number;
  completed: number;
  ledgerExact: number;
  armadoExact: number;
  fullyPaid: number;
  wallSeconds: number;
  workerKills: number;
  serverRestarts: number;
  faults: { refused: number; lostReplies: number };
  /** The ledger under faults: seconds from the start to its first row, and to every first payment's row. */
  ledger: { firstRowS: number; firstPaymentsWrittenS: number; queueRequests: number; queueSignals: number; sheetsWriteRequests: number };
  problems: string[];
}

/** mulberry32: small, seeded, good enough to make a chaos run reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function retrying<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch {
      await new Promise((r) => setTimeout(r, 500)); // the server is restarting
    }
  }
}

function startWorker(sandboxes: Sandboxes, address: string, taskQueue: string, bundle?: string): ChildProcess {
  return spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'scripts', 'start.js'), '--worker-only'], {
    env: {
      PATH: process.env.PATH,
      ...sandboxes.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ...(bundle ? { WORKFLOW_BUNDLE: bundle } : {}),
      LEDGER_BATCH_WINDOW: '300ms',
      LEDGER_REQUEUE_AFTER: '20s',
      ARMADO_TIMEOUT: '3',
      TEMPO_TIMEOUT: '3',
      GOOGLE_SHEETS_TIMEOUT: '3',
      METRICS_PORT: '0',
      LOG_LEVEL: 'ERROR',
    },
    stdio: 'ignore',
  });
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const random = seeded(options.seed);
  const began = Date.now();
  const dbFile = join(mkdtempSync(join(tmpdir(), 'chaos-temporal-')), 'temporal.db');
  const port = await freePort();
  let server = await startDevServer({ dbFilename: dbFile, port, quiet: true });
  const address = `127.0.0.1:${port}`;
  const sandboxes = await startSandboxes({ spreadsheetId: `chaos-${options.seed}` });
  const taskQueue = `chaos-${options.seed}-${Date.now()}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  let worker = startWorker(sandboxes, address, taskQueue, options.workflowBundle);
  let kills = 0;
  let restarts = 0;
  const problems: string[] = [];

  const ids = Array.from({ length: options.invoices }, (_, i) => String(700000 + options.seed * 10_000 + i));
  const split = new Set(ids.filter(() => random() < options.splitShare));
  for (const id of ids) {
    sandboxes.tempo.addInvoice(id, 100);
    if (!split.has(id)) sandboxes.tempo.invoice(id)!.RegleeTotale = 'OUI';
    sandboxes.armado.addBill(id);
  }
  for (const s of [sandboxes.tempo, sandboxes.armado, sandboxes.google])
    s.server.chaos = { failRate: options.failRate, loseReplyRate: options.loseReplyRate, minLostReplies: 1, random };
  const apiRequests = () => sandboxes.tempo.server.arrivals.length + sandboxes.armado.server.arrivals.length + sandboxes.google.server.arrivals.length;

  const start = (invoiceNumber: string, paymentId: string, paymentMode: string, paymentDate: string, amount: number) =>
    startPaymentSync(
      client,
      { invoiceNumber, paymentId, paymentMode, paymentDate, amount, tempoStatus: 200 },
      { taskQueue, defaultDossier: sandboxes.env.TEMPO_DOSSIER as string },
    );
  /** Results awaited through restarts of the server (a long poll is cut) and of the worker. */
  const settle = async (runs: Pick<StartedPaymentSync, 'workflowId' | 'runId'>[]) => {
    const results: (PaymentSyncResult | undefined)[] = [];
    for (const run of runs) {
      for (;;) {
        try {
          results.push((await client.workflow.getHandle(run.workflowId, run.runId).result()) as PaymentSyncResult);
          break;
        } catch (err) {
          const name = (err as Error).name;
          if (name === 'WorkflowFailedError') {
            problems.push(`${run.workflowId} failed: ${(err as Error).message}`);
            results.push(undefined);
            break;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    return results;
  };

  // The chaos monkey: kills the worker as the work goes on (every so many API calls, so a fast run meets
  // every kill too), restarts it at once, and restarts the dev server once, at the middle kill.
  const killEvery = Math.max(15, Math.floor((options.invoices * 5) / (options.workerKills + 1)));
  let monkeyDone = false;
  const monkey = (async () => {
    while (kills < options.workerKills) {
      const next = (kills + 1) * killEvery;
      while (!monkeyDone && apiRequests() < next) await new Promise((r) => setTimeout(r, 50));
      worker.kill('SIGKILL');
      kills += 1;
      if (restarts === 0 && kills === Math.ceil(options.workerKills / 2)) {
        log('restarting the dev server (same SQLite file, same port)');
        await server.teardown();
        server = await startDevServer({ dbFilename: dbFile, port, quiet: true });
        restarts += 1;
      }
      worker = startWorker(sandboxes, address, taskQueue, options.workflowBundle);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();

  const startAll = async (make: () => Promise<StartedPaymentSync>[]) => {
    for (;;) {
      try {
        return await Promise.all(make());
      } catch {
        await new Promise((r) => setTimeout(r, 500)); // the server is restarting: starts are idempotent
      }
    }
  };
  // First the single payments and the partial ones; then, once Tempo records the rest, the settling payments.
  const first = await startAll(() =>
    ids.map((id) => (split.has(id) ? start(id, 'p1', 'cheque', '2024-01-10', 40) : start(id, 'p1', 'virement', '2024-01-15T10:30:00+01:00', 100))),
  );
  log(`${first.length} payments started`);
  // When the ledger shows rows: its first, and all of the first payments' (one row per invoice).
  const timeline = { firstRowS: NaN, firstPaymentsWrittenS: NaN };
  const rowCount = () => sandboxes.google.rows(sandboxes.spreadsheetId).length - 1;
  const sampler = setInterval(() => {
    const n = rowCount();
    if (n > 0 && Number.isNaN(timeline.firstRowS)) timeline.firstRowS = (Date.now() - began) / 1000;
    if (n >= ids.length && Number.isNaN(timeline.firstPaymentsWrittenS)) timeline.firstPaymentsWrittenS = (Date.now() - began) / 1000;
  }, 100);
  await settle(first);
  for (const id of split) sandboxes.tempo.invoice(id)!.RegleeTotale = 'OUI';
  const second = await startAll(() => [...split].map((id) => start(id, 'p2', 'virement', '2024-01-20T09:00:00+01:00', 60)));
  await settle(second);
  // An operator resets the partial payments' runs now, after the settling ones marked the bills: they run
  // late, read "fully paid", and must leave the later payment in place.
  const resets = await Promise.all(
    first
      .filter((_, i) => split.has(ids[i] as string))
      .map(async (r) => ({ ...r, runId: await retrying(() => resetRun(client, { workflowId: r.workflowId, runId: r.runId, reason: 'chaos: late older payment' })) })),
  );
  for (const [i, result] of (await settle(resets)).entries()) {
    if (result && (result.armado.status !== 'kept-later-payment' || result.sheet.status !== 'kept-later-payment')) {
      problems.push(`late older payment ${resets[i]!.workflowId} replaced the later one: ${JSON.stringify(result)}`);
    }
  }
  monkeyDone = true;
  await monkey;
  clearInterval(sampler);
  // Every row the runs queued with the writer, queued again included, and the signals that carried them (one each,
  // or several in one enqueueLedgerRows), as the writer's histories hold them.
  let queueRequests = 0;
  let queueSignals = 0;
  for await (const w of client.workflow.list({ query: `WorkflowType="paymentLedgerWorkflow" AND TaskQueue="${taskQueue}"` })) {
    const events = (await retrying(() => client.workflow.getHandle(w.workflowId, w.runId).fetchHistory())).events ?? [];
    for (const e of events) {
      const signal = e.workflowExecutionSignaledEventAttributes;
      if (signal?.signalName === 'enqueueLedgerRow') queueRequests += 1;
      else if (signal?.signalName === 'enqueueLedgerRows') {
        const data = signal.input?.payloads?.[0]?.data;
        queueRequests += data ? ((JSON.parse(Buffer.from(data).toString()) as { requests?: unknown[] }).requests?.length ?? 0) : 0;
      } else continue;
      queueSignals += 1;
    }
  }
  for (const s of [sandboxes.tempo, sandboxes.armado, sandboxes.google]) s.server.chaos = undefined;

  const rows = sandboxes.google.rows(sandboxes.spreadsheetId).slice(1);
  let ledgerExact = 0;
  let armadoExact = 0;
  for (const id of ids) {
    const own = rows.filter((r) => r[0] === id);
    const expectedDate = split.has(id) ? '2024-01-20 09:00' : '2024-01-15 10:30';
    if (own.length === 1 && own[0]![1] === 'Payée' && own[0]![3] === expectedDate) ledgerExact += 1;
    else problems.push(`ledger ${id}: ${JSON.stringify(own)}`);
    const bill = sandboxes.armado.billsWithReference(id)[0]!;
    const puts = sandboxes.armado.puts.filter((p) => p.billId === bill.id);
    const expectedPut = split.has(id) ? '2024-01-20T09:00:00.000000' : '2024-01-15T10:30:00.000000';
    if (puts.length === 1 && bill.paymentDate === expectedPut && bill.paymentType === 2) armadoExact += 1;
    else problems.push(`armado ${id}: ${puts.length} PUT(s), bill ${bill.paymentType}/${bill.paymentDate}`);
  }
  const report: ChaosReport = {
    payments: first.length + second.length + resets.length,
    completed: first.length + second.length + resets.length - problems.filter((p) => p.includes(' failed: ')).length,
    ledgerExact,
    armadoExact,
    fullyPaid: ids.length,
    wallSeconds: Math.round((Date.now() - began) / 100) / 10,
    workerKills: kills,
    serverRestarts: restarts,
    faults: {
      refused: [sandboxes.tempo, sandboxes.armado, sandboxes.google].reduce((n, s) => n + s.server.requests.filter((r) => r.status === 503 || r.status === 429).length, 0),
      lostReplies: sandboxes.tempo.server.lostReplies + sandboxes.armado.server.lostReplies + sandboxes.google.server.lostReplies,
    },
    ledger: { ...timeline, queueRequests, queueSignals, sheetsWriteRequests: sandboxes.google.writeRequests },
    problems: problems.slice(0, 20),
  };
  worker.kill('SIGKILL');
  await connection.close();
  await server.teardown();
  await sandboxes.stop();
  return report;
}

if (require.main === module) {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const n = Number(process.env.CHAOS_N ?? 500);
  runChaos({
    invoices: n,
    splitShare: 0.2,
    failRate: Number(process.env.CHAOS_FAIL_RATE ?? 0.1),
    loseReplyRate: 0.05,
    workerKills: Number(process.env.CHAOS_KILLS ?? 8),
    seed: Number(process.env.CHAOS_SEED ?? 1),
    log: (l) => process.stderr.write(`${l}\n`),
  })
    .then((r) => {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.exit(r.problems.length === 0 ? 0 : 1);
    })
    .catch((err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
}
