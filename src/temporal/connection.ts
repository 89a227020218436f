// How every process reaches Temporal (worker, intake, CLI, doctor): one place. The address and namespace of
// DESIGN §5, and Temporal's own client configuration for security: a `temporal.toml` profile
// (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) and its environment variables (TEMPORAL_TLS_CLIENT_CERT_PATH,
// TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY…),
// read by @temporalio/envconfig as every Temporal tool reads them.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { decodeJwt } from 'jose';
import type { Config } from '../config';
import { DEV_SERVER_ADDRESS } from '../scripts/ports';

export type TemporalSecurity = 'plaintext' | 'tls' | 'mutual-tls' | 'api-key' | 'mutual-tls+token';

export interface TemporalConnectionSettings {
  address: string;
  namespace: string;
  security: TemporalSecurity;
  /** Options for the SDK's connections (TLS material read from its files, the API key). */
  options: Pick<ConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'>;
  /** The client certificate's end of validity, when one is configured. */
  clientCertificateExpires?: Date;
}

export class TemporalConnectionConfigError extends Error {
  override name = 'TemporalConnectionConfigError';
}

function describeSource(source: ConfigDataSource | undefined): string | undefined {
  return source && 'path' in source ? source.path : source ? '(inline data)' : undefined;
}

/** Resolves the settings; a TLS file that is missing is named with its variable, never read into an error. */
export function temporalConnectionSettings(temporal: Pick<Config['temporal'], 'address' | 'namespace'>, env: NodeJS.ProcessEnv = process.env): TemporalConnectionSettings {
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)) });
  } catch (err) {
    throw new TemporalConnectionConfigError(`Temporal client configuration (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE): ${(err as Error).message}`);
  }
  const tls = profile.tls;
  for (const [what, variable, source] of [
    ['client certificate', 'TEMPORAL_TLS_CLIENT_CERT_PATH', tls?.clientCert],
    ['client key', 'TEMPORAL_TLS_CLIENT_KEY_PATH', tls?.clientKey],
    ['server CA certificate', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', tls?.serverCACert],
  ] as const) {
    if (source && 'path' in source && !existsSync(source.path)) throw new TemporalConnectionConfigError(`${variable}: the ${what} file ${source.path} does not exist`);
  }
  if (Boolean(tls?.clientCert) !== Boolean(tls?.clientKey)) {
    throw new TemporalConnectionConfigError('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both (a client certificate needs its key) or neither');
  }
  // gRPC refuses a header with a control or non-ASCII character, and says so quoting the header: the token
  // would then reach an error message. Refused here, naming the variable only.
  if (profile.apiKey !== undefined && !/^[\x21-\x7e]+$/.test(profile.apiKey)) {
    throw new TemporalConnectionConfigError('TEMPORAL_API_KEY: must be one token of printable ASCII characters (no space, line break or other character)');
  }
  const connect = toClientOptions(profile);
  const options = { ...connect.connectionOptions, address: temporal.address ?? profile.address ?? DEV_SERVER_ADDRESS };
  const tlsOn = Boolean(tls && !tls.disabled);
  const security: TemporalSecurity = profile.apiKey ? (tlsOn && tls?.clientCert ? 'mutual-tls+token' : 'api-key') : tlsOn ? (tls?.clientCert ? 'mutual-tls' : 'tls') : 'plaintext';
  let clientCertificateExpires: Date | undefined;
  const tlsOptions = typeof options.tls === 'object' ? options.tls : undefined;
  if (tlsOptions?.clientCertPair) {
    try {
      clientCertificateExpires = new Date(new X509Certificate(tlsOptions.clientCertPair.crt).validTo);
    } catch {
      throw new TemporalConnectionConfigError(`TEMPORAL_TLS_CLIENT_CERT_PATH: ${describeSource(tls?.clientCert)} is not a PEM certificate`);
    }
  }
  return {
    address: options.address,
    // An explicit TEMPORAL_NAMESPACE wins; otherwise the profile's, otherwise the configuration's default.
    namespace: env.TEMPORAL_NAMESPACE ? temporal.namespace : (connect.namespace ?? temporal.namespace),
    security,
    options: options as TemporalConnectionSettings['options'],
    clientCertificateExpires,
  };
}

/** A client connection (intake, CLI, doctor). */
export function connectClient(settings: TemporalConnectionSettings, extra: Pick<ConnectionOptions, 'connectTimeout'> = {}): Promise<Connection> {
  return Connection.connect({ ...settings.options, ...extra });
}

/** A worker connection. */
export function connectWorker(settings: TemporalConnectionSettings): Promise<NativeConnection> {
  return NativeConnection.connect({ ...settings.options } as Parameters<typeof NativeConnection.connect>[0]);
}

/** What a token says about its holder, read (not verified: the server verifies it) for the doctor. Never the token. */
export interface TokenFacts {
  subject?: string;
  /** The permissions that apply to this namespace (`<namespace>:<role>`, `temporal-system:<role>`). */
  roles: string[];
  expires?: Date;
}

/** Undefined when the key is not a JWT (an opaque API key: nothing to tell). */
export function tokenFacts(apiKey: string, namespace: string): TokenFacts | undefined {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(apiKey);
  } catch {
    return undefined;
  }
  const permissions = Array.isArray(claims.permissions) ? claims.permissions.filter((p): p is string => typeof p === 'string') : [];
  return {
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    roles: permissions.filter((p) => p.startsWith(`${namespace}:`) || p.startsWith('temporal-system:')),
    expires: typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : undefined,
  };
}
