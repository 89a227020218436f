// The Temporal server launched exactly as docker-compose.yml's `temporal` service launches it: its entrypoint
// (the binary's arguments, with the mounted /deploy read as this checkout's deploy/temporal) and its environment,
// as Docker Compose itself resolves the file (`docker compose config`, built from its Go module: schema checked,
// ${VAR:-default} and ${VAR:?error} interpolated) from the values of this machine. What compose passes that the
// server cannot start with (a missing variable, a wrong argument, a TLS variable wired to the wrong setting)
// fails the cluster tests, where a comparison of two files could not.
import { composeConfig, type ResolvedService } from '../../dev/cluster/compose-cli';
import { DEPLOY_DIR, type ServerLaunch } from '../../dev/cluster/cluster';

function temporalService(vars: Record<string, string> = { POSTGRES_PASSWORD: 'unused' }): ResolvedService {
  const service = composeConfig(vars, null).services.temporal;
  if (!service) throw new Error('docker-compose.yml has no temporal service');
  return service;
}

/**
 * `.env` values compose would read (`vars`), and what differs on this machine because compose's network is
 * not here: the database's host and port, the address to bind and the ports (`host`).
 */
export function composeLaunch(defaults: ServerLaunch, vars: Record<string, string | undefined>): ServerLaunch {
  const given = Object.fromEntries(Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined));
  const service = temporalService(given);
  const [binary, ...args] = service.entrypoint ?? [];
  if (binary !== 'temporal-server') throw new Error(`compose's temporal entrypoint runs ${binary}, not temporal-server`);
  const fromCompose = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v ?? '']));
  const hostOnly = ['PATH', 'POSTGRES_SEEDS', 'DB_PORT', 'BIND_ON_IP', 'TEMPORAL_BROADCAST_ADDRESS', ...Object.keys(defaults.env).filter((k) => k.endsWith('_PORT'))];
  const host = Object.fromEntries(hostOnly.map((k) => [k, defaults.env[k]]));
  return {
    args: args.map((a) => (a === service.working_dir || a === '/deploy' ? DEPLOY_DIR : a)),
    env: { ...fromCompose, ...host },
  };
}

/** The server version compose runs, from its image tag. */
export function composeServerVersion(): string {
  return temporalService().image?.split(':')[1] ?? '';
}
