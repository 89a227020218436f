// Authorization on the real cluster, with mutual TLS still on: the server of the compose file, configured by the
// same file, checks every call's JWT against a JWKS (a signing key made here, served on loopback; nothing
// committed). Each process has its own token: the worker and the intake write, an operator who looks reads.
// Refusals are the server's own answers (PERMISSION_DENIED, "Request unauthorized.").
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import Long from 'long';
import { request } from 'undici';
import { startTemporalCluster, type TemporalCluster } from '../../dev/cluster/cluster';
import { startLocalIssuer, type LocalIssuer } from '../../dev/cluster/tokens';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { startServiceProcess, type ServiceProcess } from '../../dev/scripts/service-processes';
import { reconcileScheduleId } from '../../src/operations/reconcile';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { connectClient, temporalConnectionSettings } from '../../src/temporal/connection';
import { freePort } from '../../src/temporal/dev-server';
import { addInvoice, ledgerInvoices } from '../helpers/e2e';
import { makePki, type Pki } from '../helpers/certificates';
import { eventually } from '../helpers/eventually';
import { composeLaunch } from './compose';
import { firstCall } from './first-call';

const INTAKE_TOKEN = 'authorization-test-intake-token-0123';
const run = promisify(execFile);
let pki: Pki;
let issuer: LocalIssuer;
let cluster: TemporalCluster;
let sandboxes: Sandboxes;
const processes: ServiceProcess[] = [];
const clients: Connection[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  pki = makePki();
  issuer = await startLocalIssuer();
  const admin = pki.issue('admin');
  tokens.admin = await issuer.token({ subject: 'namespace-job', permissions: ['default:admin'] });
  tokens.worker = await issuer.token({ subject: 'worker', permissions: ['default:write'] });
  tokens.intake = await issuer.token({ subject: 'intake', permissions: ['default:write'] });
  tokens.integration = await issuer.token({ subject: 'tempo-integration', permissions: ['default:write'] });
  tokens.reader = await issuer.token({ subject: 'operator-alice', permissions: ['default:read'] });
  cluster = await startTemporalCluster({
    tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile, serverName: pki.serverName, adminCertFile: admin.certFile, adminKeyFile: admin.keyFile },
    authorization: { jwksUri: issuer.jwksUri, adminToken: tokens.admin },
    serverLogFile: join(PROJECT_ROOT, 'test-artifacts', 'cluster', 'temporal-server-authz.log'),
    // docker-compose.yml's entrypoint and environment, set as .env would set them.
    launch: (d) =>
      composeLaunch(d, {
        POSTGRES_USER: d.env.POSTGRES_USER,
        POSTGRES_PASSWORD: d.env.POSTGRES_PWD,
        ...Object.fromEntries(Object.entries(d.env).filter(([k]) => k.startsWith('SERVER_TLS_') || k.startsWith('TEMPORAL_JWKS_'))),
      }),
  });
  sandboxes = await startSandboxes({ spreadsheetId: 'authz-ledger' });
});

afterAll(async () => {
  for (const p of processes) p.child.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.close()));
  await cluster?.stop();
  await sandboxes?.stop();
  await issuer?.stop();
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

/** A client with a certificate of the CA and this token. */
async function clientWith(token: string | undefined, name: string): Promise<Client> {
  const cert = pki.issue(name);
  const env = { TEMPORAL_ADDRESS: cluster.address, ...cluster.clientTlsEnv(cert.certFile, cert.keyFile), ...(token ? { TEMPORAL_API_KEY: token } : {}) };
  const connection = await connectClient(temporalConnectionSettings({ address: cluster.address, namespace: cluster.namespace }, env));
  clients.push(connection);
  return new Client({ connection, namespace: cluster.namespace });
}

/** The server's answer to one call: accepted, or its gRPC code and message. */
async function answer(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'accepted';
  } catch (err) {
    const e = err as { code?: number; cause?: { code?: number; details?: string }; message: string };
    const code = e.cause?.code ?? e.code;
    return code === 7 ? 'PERMISSION_DENIED' : `other: ${e.message}`;
  }
}

const workflowIds: string[] = [];

test('the worker, the intake and the CLI sync payments with their own tokens; the Schedule runs through the internal frontend', async () => {
  const base = {
    PATH: process.env.PATH,
    ...sandboxes.env,
    TEMPORAL_ADDRESS: cluster.address,
    WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
    LEDGER_BATCH_WINDOW: '200ms',
    METRICS_PORT: '0',
  };
  const workerCert = pki.issue('worker');
  const w = await startServiceProcess('worker', { ...base, ...cluster.clientTlsEnv(workerCert.certFile, workerCert.keyFile), TEMPORAL_API_KEY: tokens.worker! });
  processes.push(w);
  expect(w.output()).toContain('"security":"mutual-tls+token"');
  const intakeCert = pki.issue('intake');
  const port = await freePort();
  processes.push(
    await startServiceProcess('intake', {
      ...base,
      ...cluster.clientTlsEnv(intakeCert.certFile, intakeCert.keyFile),
      TEMPORAL_API_KEY: tokens.intake!,
      INTAKE_TOKEN,
      INTAKE_PORT: String(port),
    }),
  );
  const invoices = ['620001', '620002', '620003'];
  for (const id of invoices) {
    addInvoice(sandboxes, id);
  }
  for (const id of invoices.slice(0, 2)) {
    const res = await request(`http://127.0.0.1:${port}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INTAKE_TOKEN}` },
      body: JSON.stringify({ invoiceNumber: id, paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200 }),
    });
    expect(res.statusCode).toBe(202);
    workflowIds.push(((await res.body.json()) as { workflowId: string }).workflowId);
  }
  // The Tempo integration through the CLI, with its own token: starts the third and waits for it.
  const cliCert = pki.issue('tempo-integration');
  const cliEnv = { ...base, ...cluster.clientTlsEnv(cliCert.certFile, cliCert.keyFile), TEMPORAL_API_KEY: tokens.integration! } as NodeJS.ProcessEnv;
  const started = await run(
    process.execPath,
    [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'start', '--invoice', invoices[2]!, '--mode', 'virement', '--date', '2024-01-15', '--tempo-status', '200', '--wait', '--json'],
    { env: cliEnv },
  );
  workflowIds.push((JSON.parse(started.stdout.trim().split('\n')[0]!) as { workflowId: string }).workflowId);
  for (const id of workflowIds) {
    const result = await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'result', id, '--json'], { env: cliEnv });
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'synced' });
  }
  expect(ledgerInvoices(sandboxes)).toEqual(invoices);
  for (const id of invoices) expect(sandboxes.armado.putsFor(id)).toBe(1);

  // The worker set up the reconciliation's Schedule with its token; the server's own scheduler starts it (through
  // the internal frontend: its calls carry no token).
  const worker = await clientWith(tokens.worker, 'worker-client');
  await worker.schedule.getHandle(reconcileScheduleId('payment-sync')).trigger();
  await eventually(async () => (await worker.workflow.count('WorkflowType="reconcilePaymentsWorkflow"')).count > 0, 'the triggered reconciliation to start', 60_000, 500);

  // doctor names the token's holder, role and expiry, never the token.
  const doctor = await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'doctor', '--json'], { env: cliEnv });
  const temporal = (JSON.parse(doctor.stdout) as { name: string; ok: boolean; message: string }[]).find((c) => c.name === 'temporal');
  expect(temporal).toMatchObject({ ok: true, message: expect.stringMatching(/mutual-tls\+token, .*token of tempo-integration, role default:write, expires .* UTC \(in 1 h\)/) });
  expect(doctor.stdout).not.toContain(tokens.integration!);
});

test('a reader lists and describes runs, and is refused terminate, reset, signal and start', async () => {
  const reader = await clientWith(tokens.reader, 'operator-alice');
  const listed: string[] = [];
  for await (const w of reader.workflow.list({ query: 'WorkflowType="paymentSyncWorkflow"' })) listed.push(w.workflowId);
  expect(listed.sort()).toEqual([...workflowIds].sort());
  const handle = reader.workflow.getHandle(workflowIds[0]!);
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  const refusals = {
    terminate: await answer(() => reader.workflow.getHandle(workflowIds[0]!).terminate('not allowed')),
    reset: await answer(() =>
      reader.workflowService.resetWorkflowExecution({
        namespace: cluster.namespace,
        workflowExecution: { workflowId: workflowIds[0]! },
        workflowTaskFinishEventId: Long.fromNumber(3),
        reason: 'not allowed',
        requestId: 'reader-reset',
      }),
    ),
    signal: await answer(() => reader.workflow.getHandle(workflowIds[0]!).signal('retryArmadoNow')),
    start: await answer(() => reader.workflow.start('paymentSyncWorkflow', { taskQueue: 'payment-sync', workflowId: 'reader-start', args: [{}] })),
  };
  expect(refusals).toEqual({ terminate: 'PERMISSION_DENIED', reset: 'PERMISSION_DENIED', signal: 'PERMISSION_DENIED', start: 'PERMISSION_DENIED' });
});

test('a token of another key, an expired token and no token are refused; a valid one is accepted before and after', async () => {
  const cert = pki.issue('someone');
  const env = (token?: string) => ({ ...cluster.clientTlsEnv(cert.certFile, cert.keyFile), ...(token ? { TEMPORAL_API_KEY: token } : {}) });
  const expired = await issuer.token({ subject: 'operator-bob', permissions: ['default:read'], expiresIn: -60 });
  expect(await firstCall(cluster, env(tokens.reader))).toBe('accepted');
  expect(await firstCall(cluster, env(await issuer.foreignToken({ subject: 'mallory', permissions: ['temporal-system:admin'] })))).toMatch(/^refused: .*Request unauthorized/);
  expect(await firstCall(cluster, env(expired))).toMatch(/^refused: .*Request unauthorized/);
  expect(await firstCall(cluster, env())).toMatch(/^refused: .*Request unauthorized/); // a certificate alone is not a role
  expect(await firstCall(cluster, env(tokens.reader))).toBe('accepted'); // the server stayed up

  // doctor: an expired token is a FAIL that says what to do, without the token.
  const doctor = await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'doctor'], {
    env: { PATH: process.env.PATH, ...sandboxes.env, TEMPORAL_ADDRESS: cluster.address, ...env(expired) },
  }).catch((err: { code: number; stdout: string }) => err);
  expect((doctor as { code: number }).code).toBe(1);
  expect((doctor as { stdout: string }).stdout).toMatch(
    /FAIL temporal\s+mutual-tls\+token, .*token of operator-bob, role default:read, EXPIRED at .*: get a new token \(TEMPORAL_API_KEY\)/,
  );
  expect((doctor as { stdout: string }).stdout).not.toContain(expired);
});
