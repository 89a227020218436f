// The Temporal server launched exactly as docker-compose.yml's `temporal` service launches it: its entrypoint
// (the binary's arguments, with the mounted /deploy read as this checkout's deploy/temporal) and its
// environment, compose's ${VAR:-default} and ${VAR:?error} interpolated from the values of this machine.
// What compose passes that the server cannot start with (a missing variable, a wrong argument, a TLS variable
// wired to the wrong setting) fails the cluster tests, where a comparison of two files could not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { DEPLOY_DIR, type ServerLaunch } from '../../dev/cluster/cluster';

interface ComposeService {
  image: string;
  entrypoint: string[];
  working_dir?: string;
  environment?: Record<string, string | number>;
}

function temporalService(): ComposeService {
  const compose = parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
  const service = compose.services.temporal;
  if (!service) throw new Error('docker-compose.yml has no temporal service');
  return service;
}

/** Compose's interpolation: ${X}, ${X:-default}, ${X:?message} (the message is an error when X is unset). */
export function interpolate(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string | undefined) => {
    const value = vars[name];
    if (value !== undefined && value !== '') return value;
    if (op === '-') return arg ?? '';
    if (op === '?') throw new Error(`docker-compose.yml needs ${name}: ${arg}`);
    return '';
  });
}

/**
 * `.env` values compose would read (`vars`), and what differs on this machine because compose's network is
 * not here: the database's host and port, the address to bind and the ports (`host`).
 */
export function composeLaunch(defaults: ServerLaunch, vars: Record<string, string | undefined>): ServerLaunch {
  const service = temporalService();
  const [binary, ...args] = service.entrypoint;
  if (binary !== 'temporal-server') throw new Error(`compose's temporal entrypoint runs ${binary}, not temporal-server`);
  const fromCompose = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), vars)]));
  const hostOnly = ['PATH', 'POSTGRES_SEEDS', 'DB_PORT', 'BIND_ON_IP', 'TEMPORAL_BROADCAST_ADDRESS', ...Object.keys(defaults.env).filter((k) => k.endsWith('_PORT'))];
  const host = Object.fromEntries(hostOnly.map((k) => [k, defaults.env[k]]));
  return {
    args: args.map((a) => (a === service.working_dir || a === '/deploy' ? DEPLOY_DIR : a)),
    env: { ...fromCompose, ...host },
  };
}

/** The server version compose runs, from its image tag. */
export function composeServerVersion(): string {
  return temporalService().image.split(':')[1] ?? '';
}
