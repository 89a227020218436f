// `npm run bench:backlog`: what one backlog sample costs as the number of open payment runs grows. For each size of
// BENCH_BACKLOG_SIZES (100,10000), that many payment runs are started on a task queue no worker polls (they stay
// open; a third carry SyncWaitingFor="bill", a tenth "ledger"), then the sampler runs BENCH_SAMPLES (3) times.
// Prints, per size: visibility calls per sample, wall time per sample, and the counts it found (checked).
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { BacklogSampler } from '../src/operations/backlog';
import { startDevServer } from '../src/temporal/dev-server';
import { SyncWaitingForKey, type WaitingFor } from '../src/workflows/contract';

const SIZES = (process.env.BENCH_BACKLOG_SIZES ?? '100,10000').split(',').map(Number);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 3);
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer({ dbFilename: `/tmp/bench-backlog-${randomUUID().slice(0, 8)}/temporal.db` });
  const client = new Client({ connection: server.connection });
  const rows: string[] = [];
  let failed = false;
  try {
    for (const size of SIZES) {
      const taskQueue = `backlog-${randomUUID().slice(0, 8)}`;
      const kindOf = (i: number): WaitingFor | undefined => (i % 3 === 0 ? 'bill' : i % 10 === 1 ? 'ledger' : undefined);
      const started = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < size) {
            const i = next++;
            const kind = kindOf(i);
            await client.workflow.start('paymentSyncWorkflow', {
              taskQueue,
              workflowId: `${taskQueue}-${i}`,
              args: [{ invoiceNumber: String(700000 + i), paymentMode: 'virement', paymentDate: '2024-01-15', tempoStatus: 200 }],
              typedSearchAttributes: kind ? [{ key: SyncWaitingForKey, value: kind }] : [],
            });
          }
        }),
      );
      say(`${size} open runs started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const expected = { bill: 0, ledger: 0 };
      for (let i = 0; i < size; i++) {
        const kind = kindOf(i);
        if (kind === 'bill' || kind === 'ledger') expected[kind] += 1;
      }
      const sampler = new BacklogSampler(client, { taskQueue, spreadsheetId: 'bench', sheetName: 'Paiements' });
      // Visibility catches up with the starts first (it is eventually consistent).
      for (let seen = 0; seen < size;) {
        seen = (await client.workflow.count(`TaskQueue="${taskQueue}" AND ExecutionStatus="Running"`)).count;
        if (seen < size) await new Promise((r) => setTimeout(r, 500));
      }
      const times: number[] = [];
      let calls = 0;
      let last;
      for (let s = 0; s < SAMPLES; s++) {
        const t = Date.now();
        last = await sampler.sample();
        times.push(Date.now() - t);
        calls = last.visibilityCalls;
      }
      const ok = last!.openPayments.bill === expected.bill && last!.openPayments.ledger === expected.ledger && last!.openPayments.none === size - expected.bill - expected.ledger;
      if (!ok) failed = true;
      rows.push(
        `| ${size.toLocaleString('en')} | ${calls} | ${(calls * 1).toFixed(0)} | ${Math.min(...times)} / ${Math.max(...times)} ms | bill ${last!.openPayments.bill}, ledger ${last!.openPayments.ledger}, none ${last!.openPayments.none}, oldest ${last!.oldestOpenPaymentAgeSeconds} s${ok ? '' : ' (WRONG)'} |`,
      );
    }
  } finally {
    await server.teardown();
  }
  process.stdout.write(
    `\n| open runs | visibility calls per sample | per minute (60 s interval, one worker) | sample wall (min / max) | found |\n| --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`,
  );
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
