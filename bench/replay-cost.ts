// `npm run bench:replay`: what one payment run costs the worker's workflow thread, measured by replaying its
// recorded history (test/histories/synced.json) many times: the workflow code, the SDK's state machines and
// the (de)serialisation, without the activities' own I/O. Prints ms per run and the worker's memory after.
//   BENCH_REPLAYS (1000)  histories replayed
//   BENCH_HISTORY         another recorded history (default test/histories/synced.json)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../src/temporal/binaries';

const N = Number(process.env.BENCH_REPLAYS ?? 1000);
const FILE = process.env.BENCH_HISTORY ?? join(PROJECT_ROOT, 'test', 'histories', 'synced.json');

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: new DefaultLogger('ERROR') });
  const history = historyFromJSON(JSON.parse(readFileSync(FILE, 'utf8')));
  const run = async (n: number) => {
    const began = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    let failed = 0;
    const histories = Array.from({ length: n }, (_, i) => ({ workflowId: `replay-${i}`, history }));
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, replayName: 'replay-cost' }, histories)) if (result.error) failed += 1;
    const used = process.cpuUsage(cpu);
    return { wallMs: Number(process.hrtime.bigint() - began) / 1e6, cpuMs: (used.user + used.system) / 1000, failed };
  };
  await run(20); // warm-up: bundle load, JIT
  const r = await run(N);
  process.stdout.write(
    `${N} replays of ${FILE.split('/').slice(-2).join('/')} (${history.events?.length} events): ${(r.wallMs / N).toFixed(2)} ms wall, ${(r.cpuMs / N).toFixed(2)} ms CPU per run; ` +
      `${r.failed} failed; rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
