// `npm run cluster`: the production topology of docker-compose.yml on this machine, without Docker. PostgreSQL,
// the Temporal server (built once from its Go module), the compose file's schema and namespace scripts, then
// CLUSTER_WORKERS workers (default 2) and the intake. Ctrl-C stops it all.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { startSandboxes, type Sandboxes } from '../sandbox';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { startTemporalCluster } from '../cluster/cluster';
import { findPrometheus, startPrometheus, type LocalPrometheus } from '../cluster/prometheus';
import { startLocalIssuer } from '../cluster/tokens';
import { freePort } from '../../src/temporal/dev-server';
import { startServiceProcess, type ServiceProcess } from './service-processes';

async function main(): Promise<void> {
  const say = (line: string) => process.stderr.write(`[cluster] ${line}\n`);
  const stateDir = join(PROJECT_ROOT, '.cluster');
  mkdirSync(stateDir, { recursive: true });
  const workers = Number(process.env.CLUSTER_WORKERS ?? 2);
  // Ctrl-C while it starts: let the start finish (so nothing is left half-started), then stop everything.
  let stopRequested = false;
  const early = () => {
    stopRequested = true;
    say('stopping once started…');
  };
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  // CLUSTER_AUTHORIZATION=1: the server checks tokens, from a signing key made now (never written) whose JWKS is
  // served on loopback; each process gets its own token, and an operator's read and write tokens go to files.
  const issuer = process.env.CLUSTER_AUTHORIZATION === '1' ? await startLocalIssuer() : undefined;
  const token = (subject: string, role: 'read' | 'write' | 'admin') => issuer!.token({ subject, permissions: [`${namespace}:${role}`], expiresIn: 12 * 3_600 });
  const cluster = await startTemporalCluster({
    namespace,
    serverLogFile: join(stateDir, 'temporal-server.log'),
    log: say,
    ...(issuer ? { authorization: { jwksUri: issuer.jwksUri, adminToken: await token('namespace-job', 'admin') } } : {}),
  });
  // No mutual TLS here: the token goes in plaintext over loopback (an API key turns TLS on unless told not to).
  const tokenEnv = async (subject: string, role: 'read' | 'write'): Promise<Record<string, string>> =>
    issuer ? { TEMPORAL_API_KEY: await token(subject, role), TEMPORAL_TLS: 'false' } : {};
  if (issuer) {
    for (const role of ['read', 'write'] as const) writeFileSync(join(stateDir, `operator-${role}-token`), `${await token(`operator-${role}`, role)}\n`, { mode: 0o600 });
    say(`authorization on (JWKS ${issuer.jwksUri}); operator tokens (12 h) in ${join(stateDir, 'operator-read-token')} and operator-write-token`);
  }

  // The APIs the environment configures (as for `npm run worker`), or the local sandboxes when none is.
  let sandboxes: Sandboxes | undefined;
  let apis: Record<string, string> = {};
  try {
    loadConfig({ ...process.env, TEMPORAL_ADDRESS: cluster.address });
  } catch {
    sandboxes = await startSandboxes({ keyDir: stateDir, spreadsheetId: `cluster-${Date.now().toString(36)}` });
    apis = sandboxes.env;
    say(`no API configuration in the environment: local sandboxes (Tempo ${sandboxes.tempo.baseUrl}, Armado ${sandboxes.armado.baseUrl}, Sheets ${sandboxes.google.baseUrl})`);
  }
  // The intake's bearer token: the environment's, or a new one written to a file only its owner reads.
  let intakeToken = process.env.INTAKE_TOKEN;
  if (!intakeToken) {
    intakeToken = randomBytes(24).toString('base64url');
    writeFileSync(join(stateDir, 'intake-token'), `${intakeToken}\n`, { mode: 0o600 });
  }
  const env = { ...process.env, ...apis, TEMPORAL_ADDRESS: cluster.address, TEMPORAL_NAMESPACE: cluster.namespace };
  const processes: ServiceProcess[] = [];
  let prometheus: LocalPrometheus | undefined;
  const stopAll = async () => {
    await prometheus?.stop();
    await Promise.all(processes.map((p) => p.stop()));
    await cluster.stop();
    await sandboxes?.stop();
    await issuer?.stop();
  };
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    void stopAll().finally(() => process.exit(0));
  };
  try {
    const metricsTargets: string[] = [];
    for (let i = 1; i <= workers; i++) {
      const metricsPort = await freePort();
      processes.push(
        await startServiceProcess('worker', { ...env, ...(await tokenEnv(`worker-${i}`, 'write')), METRICS_PORT: String(metricsPort) }, (line) =>
          process.stdout.write(`[worker-${i}] ${line}\n`),
        ),
      );
      metricsTargets.push(`127.0.0.1:${metricsPort}`);
      say(`worker ${i}: metrics on http://127.0.0.1:${metricsPort}/metrics`);
    }
    // Alerts, as in compose: the project's rules on every worker, when Debian's prometheus is installed.
    if (findPrometheus()) {
      prometheus = await startPrometheus({ workers: metricsTargets, logFile: join(stateDir, 'prometheus.log') });
      say(`Prometheus ${prometheus.url} (alerts: ${prometheus.url}/alerts; rules: deploy/prometheus/rules.yml)`);
    } else {
      say('no prometheus binary (apt-get install prometheus, or PROMETHEUS_PATH): running without alerts');
    }
    const intakePort = Number(process.env.INTAKE_PORT ?? 8787);
    processes.push(
      await startServiceProcess('intake', { ...env, ...(await tokenEnv('intake', 'write')), INTAKE_TOKEN: intakeToken, INTAKE_PORT: String(intakePort) }, (line) =>
        process.stdout.write(`[intake] ${line}\n`),
      ),
    );
    say(`Temporal frontend ${cluster.address} (namespace ${cluster.namespace}); server log ${join(stateDir, 'temporal-server.log')}`);
    say(`PostgreSQL 127.0.0.1:${cluster.postgres.port}; ${workers} workers; intake http://127.0.0.1:${intakePort}/v1/payments`);
    say(process.env.INTAKE_TOKEN ? 'intake token: INTAKE_TOKEN of your environment' : `intake token: in ${join(stateDir, 'intake-token')}`);
    say(`e.g. TEMPORAL_ADDRESS=${cluster.address} npm run cli -- status <invoice>; Ctrl-C stops everything`);
    process.off('SIGINT', early);
    process.off('SIGTERM', early);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (stopRequested) onSignal();
  } catch (err) {
    await stopAll();
    throw err;
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
