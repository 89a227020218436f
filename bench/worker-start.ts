// `npm run bench:worker-start`: time from launching `npm run worker` to the worker polling, on this machine,
// against a local dev server: cold (sources changed, bundle never built: what every start cost before the
// build and bundle were cached) and warm (nothing changed: a restart). Prints figures; asserts nothing.
import { spawn } from 'node:child_process';
import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startSandboxes } from '../dev/sandbox';
import { CACHE_DIR_ROOT, PROJECT_ROOT } from '../src/temporal/binaries';
import { startDevServer } from '../src/temporal/dev-server';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function launchToPolling(env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawn('npm', ['run', '--silent', 'worker'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"worker polling"')) resolve();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before polling:\n${output}`)));
  });
  const ms = performance.now() - started;
  child.removeAllListeners('exit');
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  return ms;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer();
  const sandboxes = await startSandboxes();
  const env: NodeJS.ProcessEnv = { ...process.env, ...sandboxes.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: 'bench-worker-start', METRICS_PORT: '0' };
  delete env.WORKFLOW_BUNDLE;
  const cold: number[] = [];
  const warm: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const now = new Date();
      utimesSync(join(PROJECT_ROOT, 'src', 'worker.ts'), now, now); // a source changed: the launcher compiles
      rmSync(join(CACHE_DIR_ROOT, 'workflow-bundles'), { recursive: true, force: true });
      cold.push(await launchToPolling(env));
      warm.push(await launchToPolling(env));
    }
  } finally {
    await sandboxes.stop();
    await server.teardown();
  }
  const fmt = (xs: number[]) => `${(xs.reduce((a, b) => a + b, 0) / xs.length / 1000).toFixed(2)} s (runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(', ')})`;
  process.stdout.write(`npm run worker, launch → polling, ${RUNS} runs each\n`);
  process.stdout.write(`  cold (compile + bundle, as every start did before): ${fmt(cold)}\n`);
  process.stdout.write(`  warm (restart, nothing changed):                    ${fmt(warm)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
