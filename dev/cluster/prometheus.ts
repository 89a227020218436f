// A Prometheus for the local cluster (`npm run cluster`, its tests): Debian's `prometheus` binary, the project's
// rule file, every worker's /metrics as a target. The compose file's Prometheus loads the same rules.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { isExecutable, onPath, PROJECT_ROOT } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/dev-server';

export const RULES_FILE = join(PROJECT_ROOT, 'deploy', 'prometheus', 'rules.yml');

/** PROMETHEUS_PATH, else `prometheus` on PATH, else Debian's; undefined when there is none. */
export function findPrometheus(): string | undefined {
  const candidates = [process.env.PROMETHEUS_PATH, onPath('prometheus'), '/usr/bin/prometheus'];
  return candidates.find((p): p is string => !!p && isExecutable(p));
}

export interface PrometheusOptions {
  /** host:port of each worker's metrics endpoint. */
  workers: string[];
  /** The rule files to load (default: the project's). */
  ruleFiles?: string[];
  /** Scrape and evaluation interval, seconds (default 15, as in compose). */
  intervalSeconds?: number;
  logFile?: string;
}

export interface LocalPrometheus {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<LocalPrometheus> {
  const binary = findPrometheus();
  if (!binary) throw new Error("no prometheus binary: install Debian's prometheus package (apt-get install prometheus) or set PROMETHEUS_PATH");
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const interval = `${options.intervalSeconds ?? 15}s`;
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles ?? [RULES_FILE],
    scrape_configs: [{ job_name: 'worker', static_configs: [{ targets: options.workers }] }],
  };
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2)); // YAML is a superset of JSON
  const port = await freePort();
  const child = spawn(binary, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (options.logFile) {
    mkdirSync(join(options.logFile, '..'), { recursive: true });
    const log = createWriteStream(options.logFile);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode} (see ${options.logFile ?? 'its output'})`);
    const ready = await request(`${url}/-/ready`).then(
      async (res) => (await res.body.text(), res.statusCode === 200),
      () => false,
    );
    if (ready) return { url, child, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error('prometheus did not become ready within 30 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Prometheus's HTTP API: GET a path, the `data` of its answer. */
export async function prometheusApi<T>(prometheus: Pick<LocalPrometheus, 'url'>, path: string): Promise<T> {
  const res = await request(`${prometheus.url}${path}`);
  const body = (await res.body.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.statusCode}`);
  return body.data;
}
