// Docker Compose itself, to read docker-compose.yml as compose reads it: `docker compose config` loads the file,
// checks it against the compose schema, interpolates it and resolves every service, and needs no Docker engine.
// Found in one order: COMPOSE_PATH → `docker-compose` on PATH → the project cache → built from its Go module (pinned)
// into the cache, as the Temporal server is.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_DIR_ROOT, isExecutable, onPath, PROJECT_ROOT } from '../../src/temporal/binaries';

export const COMPOSE_VERSION = '2.40.3';
const MODULE = 'github.com/docker/compose/v2';

function cachePath(): string {
  return join(CACHE_DIR_ROOT, 'compose', `docker-compose-${COMPOSE_VERSION}`);
}

/** Builds the CLI from the module's own tree (its go.mod has exclude directives, so `go install …@v` refuses it). */
function goBuild(target: string, log: (line: string) => void): string {
  if (!onPath('go')) throw new Error(`Docker Compose ${COMPOSE_VERSION} is not built yet and Go is not on PATH: install Go, or set COMPOSE_PATH to a docker-compose binary`);
  const started = Date.now();
  log(`building Docker Compose ${COMPOSE_VERSION} from its Go module into ${target} (once; a few minutes)…`);
  const env = { ...process.env, CGO_ENABLED: '0' };
  const source = (JSON.parse(execFileSync('go', ['mod', 'download', '-json', `${MODULE}@v${COMPOSE_VERSION}`], { env, encoding: 'utf8' })) as { Dir: string }).Dir;
  const work = mkdtempSync(join(tmpdir(), 'compose-src-'));
  try {
    cpSync(source, work, { recursive: true });
    makeWritable(work); // the module cache is read-only
    mkdirSync(join(target, '..'), { recursive: true });
    // Built beside the cache entry, then moved into place: an interrupted build never looks finished.
    const staging = `${target}.build-${process.pid}`;
    execFileSync('go', ['build', '-trimpath', '-ldflags', `-s -w -X ${MODULE}/internal.Version=v${COMPOSE_VERSION}`, '-o', staging, './cmd'], {
      cwd: work,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    renameSync(staging, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  log(`built Docker Compose ${COMPOSE_VERSION} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return target;
}

function makeWritable(path: string): void {
  const info = statSync(path);
  chmodSync(path, info.mode | 0o200);
  if (info.isDirectory()) for (const name of readdirSync(path)) makeWritable(join(path, name));
}

export function resolveCompose(opts: { log?: (line: string) => void } = {}): string {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const given = process.env.COMPOSE_PATH;
  if (given) {
    if (!isExecutable(given)) throw new Error('COMPOSE_PATH must name an executable docker-compose');
    return given;
  }
  const cached = cachePath();
  return onPath('docker-compose') ?? (isExecutable(cached) ? cached : goBuild(cached, log));
}

/** A service as `docker compose config --format json` resolves it (the fields this project reads). */
export interface ResolvedService {
  image?: string;
  entrypoint?: string[];
  command?: string[];
  working_dir?: string;
  environment?: Record<string, string | null>;
  ports?: { host_ip?: string; published?: string; target: number }[];
  volumes?: { type: string; source?: string; target: string; read_only?: boolean }[];
}

export interface ResolvedCompose {
  name: string;
  services: Record<string, ResolvedService>;
}

/**
 * docker-compose.yml as compose resolves it, with `.env` taken from `envFile` (default: .env.example, what a
 * newcomer copies; null: none) and `vars` overriding it as the shell's environment would. The file and the folders it names
 * are read from a copy, so that the checkout's own `.env` and secrets are neither needed nor read.
 */
export function composeConfig(vars: Record<string, string> = {}, envFile: string | null = join(PROJECT_ROOT, '.env.example')): ResolvedCompose {
  const compose = resolveCompose();
  const dir = mkdtempSync(join(tmpdir(), 'compose-config-'));
  try {
    cpSync(join(PROJECT_ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
    // null: no .env values at all, only `vars` (the services' `env_file: .env` must still exist).
    if (envFile) cpSync(envFile, join(dir, '.env'));
    else writeFileSync(join(dir, '.env'), '');
    cpSync(join(PROJECT_ROOT, 'deploy'), join(dir, 'deploy'), { recursive: true });
    const secrets = join(dir, 'secrets');
    mkdirSync(join(secrets, 'temporal-tls'), { recursive: true });
    if (!existsSync(join(secrets, 'google-service-account.json'))) writeFileSync(join(secrets, 'google-service-account.json'), '{}');
    // Only what compose interpolates from: no variable of this machine leaks into the model.
    const env = { PATH: process.env.PATH ?? '', HOME: dir, ...vars };
    const out = execFileSync(compose, ['--project-directory', dir, '-f', join(dir, 'docker-compose.yml'), 'config', '--format', 'json'], {
      cwd: dir,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const model = JSON.parse(out) as ResolvedCompose;
    return rebase(model, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Paths compose made absolute under the copy point back into the checkout. */
function rebase(model: ResolvedCompose, dir: string): ResolvedCompose {
  for (const service of Object.values(model.services)) {
    for (const v of service.volumes ?? []) if (v.source?.startsWith(dir)) v.source = join(PROJECT_ROOT, v.source.slice(dir.length));
  }
  return model;
}
