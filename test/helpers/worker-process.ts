// `npm run worker` as a real process (the build and bundle from global setup, as in the container image).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { PROJECT_ROOT } from '../../src/temporal/binaries';

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr. */
  output(): string;
}

const started: ChildProcess[] = [];

/**
 * Starts a worker against the test dev server and the sandboxes; resolves once it logs that it polls. A variable
 * given as undefined is left out (the worker then finds its way as a deployment without it would).
 */
export async function startWorkerProcess(sandboxes: Sandboxes, taskQueue: string, env: Record<string, string | undefined> = {}): Promise<WorkerProcess> {
  const unset = Object.keys(env).filter((k) => env[k] === undefined);
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'scripts', 'start.js'), '--worker-only'], {
    env: withoutKeys(unset, {
      PATH: process.env.PATH,
      ...sandboxes.env,
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: taskQueue,
      // The pre-built bundle, as in the container image: no bundling at start.
      WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
      LEDGER_BATCH_WINDOW: '200ms',
      METRICS_PORT: '0',
      ...env,
    }),
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"worker polling"')) resolve();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.on('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before polling:\n${output}`)));
  });
  return { child, output: () => output };
}

function withoutKeys(keys: string[], env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && !keys.includes(k)));
}

/** For afterAll: no worker outlives its test file. */
export function killWorkerProcesses(): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export interface ProcessRig {
  sandboxes: Sandboxes;
  client: Client;
  taskQueue: string;
}

/**
 * Fresh sandboxes, a client of the test dev server and a task queue of its own, for a test file that runs
 * workers as processes; the hooks stop everything (workers included) after the file.
 */
export function useProcessRig(name: string): ProcessRig {
  const rig = { taskQueue: `${name}-${randomUUID()}` } as ProcessRig;
  let connection: Connection | undefined;
  beforeAll(async () => {
    rig.sandboxes = await startSandboxes({ spreadsheetId: `${name}-${randomUUID().slice(0, 8)}` });
    connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS as string });
    rig.client = new Client({ connection });
  });
  afterAll(async () => {
    killWorkerProcesses();
    await connection?.close();
    await rig.sandboxes?.stop();
  });
  return rig;
}
