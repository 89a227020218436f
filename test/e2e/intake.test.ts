// The HTTP intake on a real dev server: status codes, auth, limits, a generated fuzz of malformed payloads
// (every one refused, nothing started), and a duplicate storm (one workflow, one Armado PUT).
import { randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { buildPaymentModeTable, normalizePaymentMode } from '../../src/domain/payment-modes';
import { parsePaymentDate } from '../../src/domain/dates';
import { createIntakeServer, INTAKE_MAX_BODY_BYTES, type AccessLogEntry, type IntakeServer } from '../../src/intake/server';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { freePort } from '../../src/temporal/dev-server';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';

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

describe('fuzz: generated malformed payloads', () => {
  const FIELDS = ['invoiceNumber', 'paymentMode', 'paymentDate', 'tempoStatus', 'amount', 'dossier', 'paymentId'] as const;
  const REQUIRED = ['invoiceNumber', 'paymentMode', 'paymentDate', 'tempoStatus'] as const;
  const NUMERIC = new Set(['tempoStatus', 'amount']);
  const modes = buildPaymentModeTable();
  const base = valid('90100');
  const notString = fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  );
  const notNumber = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  );
  const json = (category: string, payload: unknown) => ({ category, body: JSON.stringify(payload), contentType: 'application/json' as string | null });

  const cases = fc.oneof(
    fc.constantFrom(...FIELDS).chain((field) => (NUMERIC.has(field) ? notNumber : notString).map((value) => json('wrong type', { ...base, [field]: value }))),
    fc.subarray([...REQUIRED], { minLength: 1 }).map((missing) => json('missing field', Object.fromEntries(Object.entries(base).filter(([k]) => !missing.includes(k as never))))),
    fc
      .tuple(fc.constantFrom('invoiceNumber', 'paymentMode', 'paymentDate', 'dossier', 'paymentId'), fc.integer({ min: 101, max: 14_000 }))
      .map(([field, n]) => json('huge string', { ...base, [field]: '7'.repeat(n) })),
    fc.integer({ min: INTAKE_MAX_BODY_BYTES, max: 200_000 }).map((n) => json('over the limit', { ...base, paymentId: 'a'.repeat(n) })),
    fc
      .oneof(fc.string({ maxLength: 40 }), fc.constantFrom('2024-02-30', '2024-13-01', '15/01/2024', '2024-01-15T10:30:00', '2024-01-15T25:00:00Z', '2024-1-5', 'demain', ''))
      .filter((d) => parsePaymentDate(d.trim()) === undefined)
      .map((paymentDate) => json('bad date', { ...base, paymentDate })),
    fc
      .string({ minLength: 1, maxLength: 64 })
      .filter((m) => m.trim().length > 0 && !modes.has(normalizePaymentMode(m)))
      .map((paymentMode) => json('unknown mode', { ...base, paymentMode })),
    fc
      .oneof(
        fc.string({ maxLength: 200 }).filter((s) => m(() => JSON.parse(s))),
        fc.constantFrom('{', '{"invoiceNumber": "1",}', "{'a': 1}", '[1, 2', 'NaN', '{"a": undefined}'),
      )
      .map((body) => ({ category: 'not JSON', body, contentType: 'application/json' as string | null })),
    fc
      .integer({ min: 100, max: 8_000 })
      .map((depth) => ({ category: 'deep nesting', body: `${'['.repeat(depth)}${']'.repeat(depth)}`, contentType: 'application/json' as string | null })),
    fc.integer({ min: 50, max: 2_000 }).map((depth) => json('deep nesting', { ...base, amount: JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`) })),
    fc
      .tuple(
        fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !FIELDS.includes(k as never) && k !== '__proto__'),
        fc.jsonValue(),
      )
      .map(([k, v]) => json('unknown field', { ...base, [k]: v })),
    fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 4 }), fc.boolean()).map((v) => json('not an object', v)),
    fc
      .string({ maxLength: 30 })
      .filter((s) => !/^\d{1,20}$/.test(s.trim()))
      .map((invoiceNumber) => json('bad invoice number', { ...base, invoiceNumber })),
    fc
      .oneof(
        fc.integer({ min: -1_000, max: 99 }),
        fc.integer({ min: 600, max: 100_000 }),
        fc.double({ min: 100.01, max: 598.99, noNaN: true }).filter((n) => !Number.isInteger(n)),
      )
      .map((tempoStatus) => json('bad tempoStatus', { ...base, tempoStatus })),
    fc
      .oneof(
        fc.double({ max: 0, noNaN: true, noDefaultInfinity: true }),
        fc.double({ min: 1_000_000_001, max: 1e15, noNaN: true }),
        fc.integer({ min: 1, max: 99_999 }).map((n) => n + 0.001),
      )
      .map((amount) => json('bad amount', { ...base, amount })),
    fc
      .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/xml', null)
      .map((contentType) => ({ category: 'not declared JSON', body: JSON.stringify(base), contentType })),
  );

  function m(fn: () => unknown): boolean {
    try {
      fn();
      return false;
    } catch {
      return true;
    }
  }

  test('1,200 payloads: every one answered 4xx, zero workflows started, the intake still healthy', async () => {
    const before = await workflowsOnQueue();
    const seen = new Map<string, number>();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        seen.set(c.category, (seen.get(c.category) ?? 0) + 1);
        const res = await call({ body: c.body, contentType: c.contentType });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        return res.status >= 400 && res.status < 500;
      }),
      { numRuns: 1_200, seed: 20261124 },
    );
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1_200);
    expect(seen.size).toBe(14); // every category was generated
    expect([...statuses.keys()].sort()).toEqual([400, 413, 415]);
    expect(await workflowsOnQueue()).toBe(before);

    const health = await call({ method: 'GET', path: '/healthz', token: null });
    expect(health).toMatchObject({ status: 200, json: { status: 'ok' } });
    const stillWorks = await post(valid(addInvoice(rig.sandboxes, '90101')));
    expect(stillWorks.status).toBe(202);
  });
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

test('the access log: one structured entry per request, never the token', () => {
  expect(log.length).toBeGreaterThan(1_250);
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
  for (let i = 0; i < 100 && !stderr.includes('intake listening'); i++) await new Promise((r) => setTimeout(r, 100));
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
