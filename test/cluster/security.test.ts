// Mutual TLS on the real cluster (the server of the compose file, configured by the same file): a worker, the
// intake and the CLI with client certificates sync payments; a client without a certificate, or with one of
// another CA, is refused. Certificates are made here with openssl and removed afterwards.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { startServiceProcess, type ServiceProcess } from '../../dev/scripts/service-processes';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { startTemporalCluster, type TemporalCluster } from '../../dev/cluster/cluster';
import { freePort } from '../../src/temporal/dev-server';
import { addInvoice, ledgerInvoices } from '../helpers/e2e';
import { makePki, type Pki } from '../helpers/certificates';
import { composeLaunch } from './compose';
import { firstCall } from './first-call';

const TOKEN = 'security-test-intake-token-0123456789';
const run = promisify(execFile);
let pki: Pki;
let cluster: TemporalCluster;
let sandboxes: Sandboxes;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  pki = makePki();
  const admin = pki.issue('admin');
  cluster = await startTemporalCluster({
    tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile, serverName: pki.serverName, adminCertFile: admin.certFile, adminKeyFile: admin.keyFile },
    serverLogFile: join(PROJECT_ROOT, 'test-artifacts', 'cluster', 'temporal-server-mtls.log'),
    // docker-compose.yml's entrypoint and environment, its SERVER_TLS_* set as .env would set them.
    launch: (d) =>
      composeLaunch(d, {
        POSTGRES_USER: d.env.POSTGRES_USER,
        POSTGRES_PASSWORD: d.env.POSTGRES_PWD,
        ...Object.fromEntries(Object.entries(d.env).filter(([k]) => k.startsWith('SERVER_TLS_'))),
      }),
  });
  sandboxes = await startSandboxes({ spreadsheetId: 'mtls-ledger' });
});

afterAll(async () => {
  for (const p of processes) p.child.kill('SIGKILL');
  await cluster?.stop();
  await sandboxes?.stop();
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

test('with mutual TLS on, a worker, the intake and the CLI with client certificates sync payments', async () => {
  const worker = pki.issue('worker');
  const intakeCert = pki.issue('intake');
  const cli = pki.issue('cli');
  const base = {
    PATH: process.env.PATH,
    ...sandboxes.env,
    TEMPORAL_ADDRESS: cluster.address,
    WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
    LEDGER_BATCH_WINDOW: '200ms',
    METRICS_PORT: '0',
  };
  const w = await startServiceProcess('worker', { ...base, ...cluster.clientTlsEnv(worker.certFile, worker.keyFile) });
  processes.push(w);
  expect(w.output()).toContain('"security":"mutual-tls"');
  const port = await freePort();
  processes.push(
    await startServiceProcess('intake', { ...base, ...cluster.clientTlsEnv(intakeCert.certFile, intakeCert.keyFile), INTAKE_TOKEN: TOKEN, INTAKE_PORT: String(port) }),
  );

  const invoices = ['610001', '610002', '610003'];
  const workflowIds: string[] = [];
  for (const id of invoices) {
    addInvoice(sandboxes, id);
    const res = await request(`http://127.0.0.1:${port}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ invoiceNumber: id, paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200 }),
    });
    expect(res.statusCode).toBe(202);
    workflowIds.push(((await res.body.json()) as { workflowId: string }).workflowId);
  }
  // The CLI, with its own certificate, waits for each result.
  const cliEnv = { ...base, ...cluster.clientTlsEnv(cli.certFile, cli.keyFile) } as NodeJS.ProcessEnv;
  for (const id of workflowIds) {
    const result = await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'result', id, '--json'], { env: cliEnv });
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'synced' });
  }
  expect(ledgerInvoices(sandboxes)).toEqual(invoices);
  for (const id of invoices) expect(sandboxes.armado.putsFor(id)).toBe(1);

  // doctor says how the connection is secured and until when the certificate holds.
  const doctor = await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'doctor', '--json'], { env: cliEnv });
  const checks = JSON.parse(doctor.stdout) as { name: string; ok: boolean; message: string }[];
  expect(checks.find((c) => c.name === 'temporal')).toMatchObject({
    ok: true,
    message: expect.stringMatching(/\(mutual-tls, client certificate valid until \d{4}-\d\d-\d\d \(\d+ days\)\)/),
  });
});

test('a client without a certificate, or with one of another CA, is refused; the CLI says so', async () => {
  const stranger = pki.issue('stranger', 'other-ca');
  const own = pki.issue('own');
  expect(await firstCall(cluster, { ...cluster.clientTlsEnv(own.certFile, own.keyFile) })).toBe('accepted');
  expect(await firstCall(cluster, {})).toMatch(/^refused/); // plaintext
  expect(await firstCall(cluster, { TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caFile, TEMPORAL_TLS_SERVER_NAME: pki.serverName })).toMatch(/^refused/); // TLS, no certificate
  expect(await firstCall(cluster, { ...cluster.clientTlsEnv(stranger.certFile, stranger.keyFile) })).toMatch(/^refused/); // another CA
  expect(await firstCall(cluster, { ...cluster.clientTlsEnv(own.certFile, own.keyFile) })).toBe('accepted'); // the server is still up

  const cli = await run(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), 'doctor'], {
    env: { PATH: process.env.PATH, ...sandboxes.env, TEMPORAL_ADDRESS: cluster.address },
  }).catch((err: { code: number; stdout: string }) => err);
  expect((cli as { code: number }).code).toBe(1);
  expect((cli as { stdout: string }).stdout).toMatch(/FAIL temporal\s+cannot reach Temporal at .* \(plaintext;/);
});
