// A throw-away PostgreSQL server from the machine's packages (Debian's `postgresql`), started unprivileged in
// a temporary folder on a free port: the database of `npm run cluster` and of the cluster test. No system
// service, no root needed; run as root, it drops to the `postgres` account (PostgreSQL refuses to run as root).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { isExecutable } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/dev-server';

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Fast shutdown, then the data folder is removed. */
  stop(): Promise<void>;
}

/** The folder holding initdb and postgres: PG_BIN_DIR, then PATH, then Debian's newest /usr/lib/postgresql/N/bin. */
export function findPostgresBinDir(): string {
  const candidates = [process.env.PG_BIN_DIR, ...(process.env.PATH ?? '').split(delimiter)];
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // not Debian's layout
  }
  for (const dir of candidates) {
    // Through a symbolic link (/usr/local/bin/postgres) to the folder holding the rest: pg_isready too.
    if (dir && isExecutable(join(dir, 'initdb')) && isExecutable(join(dir, 'postgres'))) return dirname(realpathSync(join(dir, 'postgres')));
  }
  throw new Error('PostgreSQL is not installed: `apt-get install postgresql` (Debian), or set PG_BIN_DIR to the folder holding initdb and postgres');
}

/** Root runs PostgreSQL as the `postgres` account the Debian package creates. */
function serviceAccount(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  if (!entry) throw new Error('running as root, PostgreSQL needs an unprivileged account: create the `postgres` user, or run as another user');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

export async function startPostgres(options: { port?: number; log?: (line: string) => void } = {}): Promise<Postgres> {
  const bin = findPostgresBinDir();
  const account = serviceAccount();
  const root = mkdtempSync(join(tmpdir(), 'tempo-armado-sync-pg-'));
  if (account) chownSync(root, account.uid, account.gid);
  const dataDir = join(root, 'data');
  const user = 'temporal';
  const password = randomBytes(18).toString('base64url');
  const pwFile = join(root, 'password');
  writeFileSync(pwFile, password, { mode: 0o600 });
  if (account) chownSync(pwFile, account.uid, account.gid);

  const asAccount = account ? { uid: account.uid, gid: account.gid } : {};
  // Password authentication on TCP as in production (the SQL tool and the server send one), nothing on a socket.
  execFileSync(join(bin, 'initdb'), ['-D', dataDir, '-U', user, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C.UTF-8'], {
    ...asAccount,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  rmSync(pwFile);
  const port = options.port ?? (await freePort());
  const server: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${root}`, '-c', 'max_connections=200'],
    { ...asAccount, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  server.stderr!.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));

  // Ready when it accepts connections (pg_isready, from the same packages).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`PostgreSQL exited at start:\n${output}`);
    try {
      execFileSync(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      break;
    } catch {
      if (Date.now() > deadline) {
        server.kill('SIGKILL');
        rmSync(root, { recursive: true, force: true });
        throw new Error(`PostgreSQL not ready after 60 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  options.log?.(`PostgreSQL (${bin}) on 127.0.0.1:${port}, data in ${dataDir}`);
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    async stop() {
      if (server.exitCode === null) {
        server.kill('SIGINT'); // "fast" shutdown: no new connections, open ones closed, a clean checkpoint
        await exited;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
