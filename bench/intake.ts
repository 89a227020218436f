// `npm run bench:intake`: how fast the HTTP intake turns a POST into a started workflow (202), on this
// machine, against a local dev server; and, as a baseline in the same run, the same starts made directly
// with the TypeScript client (no HTTP, no intake). Prints figures; asserts nothing.
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startPaymentSync } from '../src/client/payment-sync-client';
import { buildPaymentModeTable } from '../src/domain/payment-modes';
import { createIntakeServer } from '../src/intake/server';
import { startDevServer } from '../src/temporal/dev-server';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer();
  const client = server.client;
  const token = randomBytes(24).toString('hex');
  const options = { taskQueue: `bench-${randomUUID()}`, defaultDossier: 'BENCH', paymentModes: buildPaymentModeTable() };
  const intake = createIntakeServer({ client, token, start: options });
  await new Promise<void>((resolve) => intake.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(intake.address() as AddressInfo).port}`;
  let n = 0;
  const payment = () => ({
    invoiceNumber: String(100000 + (n % 50000)),
    paymentMode: 'virement',
    paymentDate: '2024-01-15',
    tempoStatus: 200,
    amount: 10,
    paymentId: `bench-${n++}`,
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`intake benchmark: ${DURATION_S}s per phase, ${CONNECTIONS} concurrent connections, Temporal dev server (in-memory SQLite) on this machine, no worker (runs only queue)`);

  // Warm-up: JIT, connection pools, the server's first namespace lookups.
  await Promise.all(Array.from({ length: 50 }, () => startPaymentSync(client, payment(), options)));

  // Baseline: the same starts without HTTP, CONNECTIONS at a time.
  const latencies: number[] = [];
  const until = Date.now() + DURATION_S * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        const t0 = process.hrtime.bigint();
        await startPaymentSync(client, payment(), options);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const direct = { rps: latencies.length / DURATION_S, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };

  const result = await autocannon({
    url: `${url}/v1/payments`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        setupRequest: (req) => ({ ...req, body: JSON.stringify(payment()) }),
      },
    ],
  });
  const accepted = result.statusCodeStats?.['202']?.count ?? 0;
  const other = result.requests.total - accepted;

  say('');
  say(`                              req/s     p50 ms    p99 ms    requests`);
  say(`client.workflow.start        ${direct.rps.toFixed(0).padStart(6)}    ${direct.p50.toFixed(1).padStart(6)}    ${direct.p99.toFixed(1).padStart(6)}    ${latencies.length}`);
  say(
    `POST /v1/payments → 202      ${result.requests.average.toFixed(0).padStart(6)}    ${result.latency.p50.toFixed(1).padStart(6)}    ${result.latency.p99.toFixed(1).padStart(6)}    ${result.requests.total} (${accepted} × 202, ${other} other, ${result.errors} errors)`,
  );
  say('');
  say(`intake overhead at p50: ${(result.latency.p50 - direct.p50).toFixed(1)} ms; throughput ${((result.requests.average / direct.rps) * 100).toFixed(0)}% of direct starts`);

  await intake.shutdown();
  await server.teardown();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
