// The HTTP intake on a real dev server: status codes, auth, limits, every kind of malformed request (refused,
// nothing started), and a duplicate storm (one workflow, one Armado PUT).
import { randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { buildPaymentModeTable } from '../../src/domain/payment-modes';
import { createIntakeServer, INTAKE_MAX_BODY_BYTES, type AccessLogEntry, type IntakeServer } from '../../src/intake/server';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/dev-server';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';
import { eventually } from '../helpers/eventually';

const TOKEN = randomBytes(24).toString('hex');
let rig: E2E;
let server: IntakeServer;
let base: string;
const log: AccessLogEntry[] = [];

beforeAll(async () => {
  rig = await startE2E();
  server = createIntakeServer({
    client: rig.client,
    token: TOKEN,
    start: { taskQueue: rig.taskQueue, defaultDossier: rig.config.tempo.dossier, paymentModes: buildPaymentModeTable(rig.config.paymentModes) },
    log: (entry) => log.push(entry),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await server?.shutdown();
  await rig?.stop();
});

interface Call {
  method?: string;
  path?: string;
  body?: string | Buffer;
  contentType?: string | null;
  token?: string | null;
}
async function call({ method = 'POST', path = '/v1/payments', body, contentType = 'application/json', token = TOKEN }: Call) {
  const headers: Record<string, string> = {};
  if (contentType !== null) headers['content-type'] = contentType;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await request(`${base}${path}`, { method: method as 'POST', headers, body });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // status is what matters then
  }
  return { status: res.statusCode, json, headers: res.headers };
}
const post = (payload: unknown, extra: Partial<Call> = {}) => call({ body: JSON.stringify(payload), ...extra });

/** Counted by listing: the dev server's SQLite count API over-counts runs whose search attributes changed. */
async function countRuns(query: string): Promise<number> {
  const runs = [];
  for await (const run of rig.client.workflow.list({ query })) runs.push(run.runId);
  return runs.length;
}
const workflowsOnQueue = () => countRuns(`TaskQueue="${rig.taskQueue}"`);

const valid = (invoiceNumber: string) => ({ invoiceNumber, paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200, amount: 12.5 });

describe('status codes', () => {
  test('202 on start, 200 with the same body for a duplicate, GET shows status then the result', async () => {
    const id = addInvoice(rig.sandboxes, '90001');
    const first = await post(valid(id));
    expect(first.status).toBe(202);
    expect(first.json).toEqual({ workflowId: expect.stringMatching(/^payment-sync-DEMO-90001-[0-9a-f]{12}$/), runId: expect.any(String) });
    const again = await post(valid(id));
    expect(again).toMatchObject({ status: 200, json: first.json });

    const workflowId = first.json.workflowId as string;
    await rig.client.workflow.getHandle(workflowId).result();
    const view = await call({ method: 'GET', path: `/v1/payments/${workflowId}` });
    expect(view.status).toBe(200);
    expect(view.json).toMatchObject({
      workflowId,
      status: 'COMPLETED',
      outcome: 'synced',
      invoiceNumber: id,
      summary: expect.stringContaining(`Invoice ${id}: fully paid`),
      result: { invoiceNumber: id, outcome: 'synced', armado: { status: 'updated' } },
    });
    const afterClose = await post(valid(id));
    expect(afterClose).toMatchObject({ status: 200, json: first.json });
  });

  test('400 names each bad field and the accepted values; nothing starts', async () => {
    const before = await workflowsOnQueue();
    const bad = await post({ invoiceNumber: 'F-12', paymentMode: 'virement', paymentDate: '15/01/2024', tempoStatus: '200', colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('InvalidPaymentInput');
    const fields = (bad.json.problems as { field: string; message: string }[]).map((p) => p.field).sort();
    expect(fields).toEqual(['colour', 'invoiceNumber', 'paymentDate', 'tempoStatus']);
    expect(JSON.stringify(bad.json)).toContain('accepted fields: invoiceNumber, paymentMode, paymentDate, tempoStatus, amount, dossier, paymentId');
    const mode = await post({ ...valid('90002'), paymentMode: 'bitcoin' });
    expect(mode).toMatchObject({
      status: 400,
      json: { error: 'UnknownPaymentMode', problems: [{ field: 'paymentMode', message: expect.stringContaining('accepted modes: autre, carte, cash, cb, cheque') }] },
    });
    expect(await workflowsOnQueue()).toBe(before);
  });

  test('401 without the right bearer token, before anything else is looked at', async () => {
    for (const token of [null, '', 'wrong', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) {
      const res = await call({ body: 'not even json', token });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    expect((await call({ method: 'GET', path: '/v1/payments/payment-sync-x', token: null })).status).toBe(401);
  });

  test('413 over the body limit, 415 when not JSON, 404 and 405 elsewhere', async () => {
    expect((await post({ ...valid('90003'), paymentId: 'x'.repeat(INTAKE_MAX_BODY_BYTES) })).status).toBe(413);
    expect((await call({ body: JSON.stringify(valid('90003')), contentType: 'text/plain' })).status).toBe(415);
    expect((await call({ body: JSON.stringify(valid('90003')), contentType: null })).status).toBe(415);
    expect((await call({ method: 'GET', path: '/v1/payments/payment-sync-DEMO-1-unknown' })).status).toBe(404);
    expect((await call({ method: 'GET', path: '/v1/payments/not-ours' })).status).toBe(400);
    expect((await call({ method: 'GET', path: '/elsewhere' })).status).toBe(404);
    expect((await call({ method: 'DELETE', path: '/v1/payments' })).status).toBe(405);
    expect((await call({ method: 'GET', path: '/healthz', token: null })).json).toEqual({ status: 'ok', temporal: 'ok' });
  });
});

// What the input schema accepts is a property test (test/unit/payment-input.property.test.ts); here, one
// request per way HTTP itself can carry a bad payment, each refused before any workflow starts.
test('malformed requests of every kind: 4xx, zero workflows started, the intake still healthy', async () => {
  const before = await workflowsOnQueue();
  const base = valid('90100');
  const cases: { what: string; body: string; contentType?: string | null; status: number }[] = [
    { what: 'not JSON', body: '{"invoiceNumber": "1",}', status: 400 },
    { what: 'not an object', body: '[1, 2]', status: 400 },
    { what: 'a field of the wrong type', body: JSON.stringify({ ...base, tempoStatus: '200' }), status: 400 },
    { what: 'a required field missing', body: JSON.stringify({ ...base, paymentDate: undefined }), status: 400 },
    { what: 'an unknown field', body: JSON.stringify({ ...base, colour: 'blue' }), status: 400 },
    { what: 'an unknown mode', body: JSON.stringify({ ...base, paymentMode: 'troc' }), status: 400 },
    { what: 'deep nesting', body: `${'['.repeat(5_000)}${']'.repeat(5_000)}`, status: 400 },
    { what: 'a nested value where a number is due', body: JSON.stringify({ ...base, amount: JSON.parse(`${'['.repeat(500)}1${']'.repeat(500)}`) }), status: 400 },
    { what: 'over the body limit', body: JSON.stringify({ ...base, paymentId: 'a'.repeat(INTAKE_MAX_BODY_BYTES) }), status: 413 },
    { what: 'not declared JSON', body: JSON.stringify(base), contentType: 'application/x-www-form-urlencoded', status: 415 },
    { what: 'no content type', body: JSON.stringify(base), contentType: null, status: 415 },
  ];
  const answered = [];
  for (const c of cases)
    answered.push({ what: c.what, status: (await call({ body: c.body, contentType: c.contentType === undefined ? 'application/json' : c.contentType })).status });
  expect(answered).toEqual(cases.map((c) => ({ what: c.what, status: c.status })));
  expect(await workflowsOnQueue()).toBe(before);
  expect(await call({ method: 'GET', path: '/healthz', token: null })).toMatchObject({ status: 200, json: { status: 'ok' } });
  expect((await post(valid(addInvoice(rig.sandboxes, '90101')))).status).toBe(202);
});

test('duplicate storm: the same payment posted 50 times at once → one workflow, one Armado PUT', async () => {
  const id = addInvoice(rig.sandboxes, '90200');
  const answers = await Promise.all(Array.from({ length: 50 }, () => post({ ...valid(id), paymentId: 'storm-1' })));
  expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
  expect(answers.filter((a) => a.status === 200)).toHaveLength(49);
  expect(new Set(answers.map((a) => a.json.workflowId)).size).toBe(1);
  expect(new Set(answers.map((a) => a.json.runId)).size).toBe(1);
  const workflowId = answers[0]!.json.workflowId as string;
  await rig.client.workflow.getHandle(workflowId).result();
  expect(await countRuns(`InvoiceNumber="${id}"`)).toBe(1);
  expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
  expect(rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).filter((r) => r[0] === id)).toHaveLength(1);
});

test('the access log: one structured entry per request, never the token', async () => {
  const from = log.length;
  await post(valid(addInvoice(rig.sandboxes, '90250')));
  await call({ method: 'GET', path: '/healthz', token: null });
  await call({ body: '{', contentType: 'application/json' });
  expect(log.slice(from).map((e) => e.status)).toEqual([202, 200, 400]);
  for (const entry of log) {
    expect(Object.keys(entry)).toEqual(expect.arrayContaining(['time', 'method', 'path', 'status', 'durationMs']));
  }
  expect(JSON.stringify(log)).not.toContain(TOKEN);
  expect(log.filter((e) => e.status === 202)[0]).toMatchObject({ method: 'POST', path: '/v1/payments', workflowId: expect.stringMatching(/^payment-sync-/), duplicate: false });
});

test('`npm run intake` refuses to start without INTAKE_TOKEN, and names the variable', async () => {
  const script = join(PROJECT_ROOT, 'dist', 'src', 'scripts', 'intake.js');
  const result = await promisify(execFile)(process.execPath, [script], { env: { PATH: process.env.PATH, TEMPO_DOSSIER: 'DEMO' }, cwd: PROJECT_ROOT }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('INTAKE_TOKEN: is required: the intake refuses to start without a bearer token');
});

test('`npm run intake` as a process: serves with a token, logs JSON lines without it, exits 0 on SIGTERM', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'scripts', 'intake.js')], {
    env: {
      PATH: process.env.PATH,
      TEMPO_DOSSIER: 'DEMO',
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: rig.taskQueue,
      INTAKE_TOKEN: TOKEN,
      INTAKE_PORT: String(port),
    },
    cwd: '/',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await eventually(() => stderr.includes('intake listening'), 'the intake to listen', 10_000).catch(() => undefined);
  expect(stderr).toContain(`intake listening on :${port}`);
  const id = addInvoice(rig.sandboxes, '90300');
  const res = await request(`http://127.0.0.1:${port}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(valid(id)),
  });
  expect(res.statusCode).toBe(202);
  await res.body.dump();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AccessLogEntry);
  expect(lines).toEqual([expect.objectContaining({ msg: 'http', method: 'POST', path: '/v1/payments', status: 202, workflowId: expect.stringContaining('90300') })]);
  expect(stdout + stderr).not.toContain(TOKEN);
});
