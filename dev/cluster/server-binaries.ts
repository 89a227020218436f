// Finds the full Temporal server (the one the compose file runs on PostgreSQL) and its SQL schema tool, in one
// order: env override → PATH (as in the server images) → project cache → `go install` of the pinned module
// into the cache. There is no prebuilt download for users without Go: they run the compose file instead.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR_ROOT, isExecutable, onPath } from '../../src/temporal/binaries';

/** Pinned with the compose file's images (temporalio/server and admin-tools); a test checks they agree. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const MODULE = 'go.temporal.io/server';

export interface TemporalServerBinaries {
  /** `temporal-server`, as in the server image. */
  server: string;
  /** `temporal-sql-tool`, as in the admin-tools image. */
  sqlTool: string;
  /** The module's `schema/` folder (`postgresql/v12/...`), as /etc/temporal/schema in the admin-tools image. */
  schemaDir: string;
}

export function serverCacheDir(version = TEMPORAL_SERVER_VERSION): string {
  return join(process.env.TEMPORAL_BIN_CACHE ?? join(CACHE_DIR_ROOT, 'temporal'), `temporal-server-${version}`);
}

function cached(dir: string): TemporalServerBinaries | undefined {
  const found = { server: join(dir, 'bin', 'temporal-server'), sqlTool: join(dir, 'bin', 'temporal-sql-tool'), schemaDir: join(dir, 'schema') };
  return isExecutable(found.server) && isExecutable(found.sqlTool) && existsSync(join(found.schemaDir, 'postgresql')) ? found : undefined;
}

/** Builds both binaries from the Go module into the cache (minutes the first time; the Go caches make it faster after). */
function goInstall(dir: string, log: (line: string) => void): TemporalServerBinaries {
  if (!onPath('go'))
    throw new Error(
      `the Temporal server ${TEMPORAL_SERVER_VERSION} is not built yet and Go is not on PATH: install Go, or set TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH and TEMPORAL_SCHEMA_DIR`,
    );
  mkdirSync(join(dir, '..'), { recursive: true });
  // Built beside the cache entry, then moved into place: an interrupted build never looks finished.
  const staging = mkdtempSync(join(dir, '..', `.build-${TEMPORAL_SERVER_VERSION}-`));
  const started = Date.now();
  log(`building the Temporal server ${TEMPORAL_SERVER_VERSION} from its Go module into ${dir} (once; about 3 to 5 minutes)…`);
  const env = { ...process.env, GOBIN: join(staging, 'bin'), CGO_ENABLED: '0', GOFLAGS: '-mod=mod' };
  execFileSync('go', ['install', `${MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}`, `${MODULE}/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  renameSync(join(staging, 'bin', 'server'), join(staging, 'bin', 'temporal-server'));
  renameSync(join(staging, 'bin', 'sql'), join(staging, 'bin', 'temporal-sql-tool'));
  const moduleDir = execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', `${MODULE}@v${TEMPORAL_SERVER_VERSION}`], { env, encoding: 'utf8' }).trim();
  cpSync(join(moduleDir, 'schema'), join(staging, 'schema'), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  log(`built the Temporal server ${TEMPORAL_SERVER_VERSION} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return cached(dir) as TemporalServerBinaries;
}

export function resolveTemporalServer(opts: { log?: (line: string) => void } = {}): TemporalServerBinaries {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH, TEMPORAL_SCHEMA_DIR } = process.env;
  if (TEMPORAL_SERVER_PATH || TEMPORAL_SQL_TOOL_PATH || TEMPORAL_SCHEMA_DIR) {
    const given = { server: TEMPORAL_SERVER_PATH ?? '', sqlTool: TEMPORAL_SQL_TOOL_PATH ?? '', schemaDir: TEMPORAL_SCHEMA_DIR ?? '' };
    if (!isExecutable(given.server) || !isExecutable(given.sqlTool) || !existsSync(join(given.schemaDir, 'postgresql'))) {
      throw new Error('TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH must name executables and TEMPORAL_SCHEMA_DIR a folder holding postgresql/ (set all three)');
    }
    return given;
  }
  const server = onPath('temporal-server');
  const sqlTool = onPath('temporal-sql-tool');
  if (server && sqlTool && existsSync('/etc/temporal/schema/postgresql')) return { server, sqlTool, schemaDir: '/etc/temporal/schema' };
  const dir = serverCacheDir();
  return cached(dir) ?? goInstall(dir, log);
}
