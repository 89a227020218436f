// The service's own processes (worker, intake) started from the build, exactly as the container image runs
// them: used by `npm run cluster`, its test and the benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/temporal/binaries';

export type ServiceKind = 'worker' | 'intake';

export interface ServiceProcess {
  kind: ServiceKind;
  child: ChildProcess;
  /** Everything it wrote so far (stdout and stderr), the last 200 KB. */
  output(): string;
  /** SIGTERM, then waits for the exit (the worker finishes its in-flight activities first). */
  stop(): Promise<void>;
}

const ENTRY: Record<ServiceKind, { args: string[]; ready: string }> = {
  worker: { args: [join('scripts', 'start.js'), '--worker-only'], ready: '"msg":"worker polling"' },
  intake: { args: [join('scripts', 'intake.js')], ready: 'intake listening on' },
};

/** Starts one; resolves once it serves (the worker polls, the intake listens). */
export async function startServiceProcess(kind: ServiceKind, env: Record<string, string | undefined>, onLine?: (line: string) => void): Promise<ServiceProcess> {
  const [entry, ...args] = ENTRY[kind].args as [string, ...string[]];
  // As `npm start` and the image run it (see the Dockerfile: the young generation's size, Node 22+).
  const child = spawn(process.execPath, ['--max-semi-space-size=16', join(PROJECT_ROOT, 'dist', 'src', entry), ...args], {
    env: env as NodeJS.ProcessEnv,
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let partial = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-200_000);
    if (!onLine) return;
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes(ENTRY[kind].ready)) {
        clearInterval(timer);
        resolve();
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(timer);
        reject(new Error(`${kind} exited (${child.exitCode ?? child.signalCode}) before serving:\n${output}`));
      }
    }, 50);
  });
  return {
    kind,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
