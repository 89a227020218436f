import { ApplicationFailure } from '@temporalio/common';
import { MockAgent } from 'undici';
import { createArmadoActivities } from '../../src/activities/armado';
import { ArmadoClient } from '../../src/apis/armado';
import { parseRetryAfter } from '../../src/apis/http';
import { TempoClient } from '../../src/apis/tempo';
import { expectFailure } from '../helpers/failures';

const SECRET_PASSWORD = 'p@ss-Tempo-Very-Secret';
const SECRET_KEY = 'armado-Very-Secret-Key';

function rig() {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const tempo = new TempoClient({ baseUrl: 'https://tempo.test/API/Tempo', username: 'u', password: SECRET_PASSWORD, timeoutMs: 500, dispatcher: agent });
  const armado = new ArmadoClient({ baseUrl: 'https://armado.test', apiKey: SECRET_KEY, timeoutMs: 500, dispatcher: agent });
  return { agent, tempo, armado, tempoPool: agent.get('https://tempo.test'), armadoPool: agent.get('https://armado.test') };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const failure = await expectFailure(promise);
  // No secret in any failure a client raises.
  expect(failure.message).not.toContain(SECRET_PASSWORD);
  expect(failure.message).not.toContain(SECRET_KEY);
  expect(failure.message).not.toContain(Buffer.from(`u:${SECRET_PASSWORD}`).toString('base64'));
  return failure;
}

const json = { headers: { 'content-type': 'application/json' } };

describe('Tempo client', () => {
  test('reads RegleeTotale and amounts with a dot, keeping unknown fields out of the way', async () => {
    const { tempo, tempoPool } = rig();
    tempoPool
      .intercept({ path: '/API/Tempo/FACTURE?Dossier=D1&ID=20664', method: 'GET', headers: { authorization: `Basic ${Buffer.from(`u:${SECRET_PASSWORD}`).toString('base64')}` } })
      .reply(200, { RegleeTotale: 'OUI', DateReglementTotal: '20240115', MontantTTC: '795.60', MontantReglementPartielTotal: 0, Client: 'X' }, json);
    await expect(tempo.getInvoice('D1', '20664')).resolves.toEqual({ fullyPaid: true, settledOn: '20240115', totalAmount: 795.6, paidAmount: 0 });
  });

  test.each([
    [404, 'TempoInvoiceNotFound', true],
    [401, 'TempoAuthFailed', true],
    [403, 'TempoAuthFailed', true],
    [500, 'ExternalApiUnavailable', false],
    [502, 'ExternalApiUnavailable', false],
  ])('HTTP %i → %s (nonRetryable %s)', async (status, type, nonRetryable) => {
    const { tempo, tempoPool } = rig();
    tempoPool.intercept({ path: /FACTURE/, method: 'GET' }).reply(status, { message: 'nope' }, json);
    const failure = await failureOf(tempo.getInvoice('D1', '1'));
    expect(failure.type).toBe(type);
    expect(failure.nonRetryable).toBe(nonRetryable);
  });

  test('a network error is transient and names no secret', async () => {
    const { tempo, tempoPool } = rig();
    tempoPool.intercept({ path: /FACTURE/, method: 'GET' }).replyWithError(new Error('socket hang up'));
    const failure = await failureOf(tempo.getInvoice('D1', '1'));
    expect(failure).toMatchObject({ type: 'ExternalApiUnavailable', nonRetryable: false });
  });
});

describe('Armado client', () => {
  test('search returns every bill; 404 means none', async () => {
    const { armado, armadoPool } = rig();
    armadoPool.intercept({ path: '/v1/bill?reference=20664', method: 'GET', headers: { ApiKey: SECRET_KEY } }).reply(
      200,
      [
        { id: 7, reference: '20664' },
        { id: 8, reference: 206640 },
      ],
      json,
    );
    armadoPool.intercept({ path: '/v1/bill?reference=1', method: 'GET' }).reply(404, { message: 'none' }, json);
    await expect(armado.searchBills('20664')).resolves.toEqual([
      { id: '7', reference: '20664', paymentType: null, paymentDate: null },
      { id: '8', reference: '206640', paymentType: null, paymentDate: null },
    ]);
    await expect(armado.searchBills('1')).resolves.toEqual([]);
  });

  test('429 carries Retry-After as the next retry delay', async () => {
    const { armado, armadoPool } = rig();
    armadoPool.intercept({ path: /bill/, method: 'GET' }).reply(429, { message: 'slow down' }, { headers: { ...json.headers, 'retry-after': '7' } });
    const failure = await failureOf(armado.searchBills('20664'));
    expect(failure).toMatchObject({ type: 'ExternalApiUnavailable', nonRetryable: false, nextRetryDelay: 7000 });
  });

  test("422 keeps Armado's message; 401 is an auth failure; 404 on PUT means the bill is gone", async () => {
    const { armado, armadoPool } = rig();
    armadoPool.intercept({ path: '/v1/bill/7', method: 'PUT' }).reply(422, { message: 'paymentType invalide' }, json);
    armadoPool.intercept({ path: '/v1/bill/7', method: 'PUT' }).reply(401, { message: 'bad key' }, json);
    armadoPool.intercept({ path: '/v1/bill/7', method: 'PUT' }).reply(404, { message: 'gone' }, json);
    const payment = { paymentType: 2, paymentDate: '2024-01-15T00:00:00.000000' };
    expect(await failureOf(armado.updateBillPayment('7', payment, '20664'))).toMatchObject({
      type: 'ArmadoValidationFailed',
      nonRetryable: true,
      message: expect.stringContaining('paymentType invalide'),
    });
    expect(await failureOf(armado.updateBillPayment('7', payment, '20664'))).toMatchObject({ type: 'ArmadoAuthFailed', nonRetryable: true });
    expect(await failureOf(armado.updateBillPayment('7', payment, '20664'))).toMatchObject({ type: 'ArmadoBillNotFound' });
  });

  test('a timeout is transient', async () => {
    const { armado, armadoPool } = rig();
    armadoPool.intercept({ path: /bill/, method: 'GET' }).reply(200, [], json).delay(2_000);
    const failure = await failureOf(armado.searchBills('20664'));
    expect(failure).toMatchObject({ type: 'ExternalApiUnavailable', nonRetryable: false, message: expect.stringContaining('timed out') });
  });
});

test('Retry-After: seconds, HTTP dates, garbage, and a cap', () => {
  const now = Date.parse('2024-01-15T10:00:00Z');
  expect(parseRetryAfter('3', now)).toBe(3000);
  expect(parseRetryAfter('Mon, 15 Jan 2024 10:00:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter(undefined, now)).toBeUndefined();
  expect(parseRetryAfter('999999', now)).toBe(600_000);
});

describe('updateArmadoBillPayment activity', () => {
  const payment = { invoiceNumber: '20664', paymentType: 2, paymentDate: '2024-01-15T00:00:00.000000' };
  const staleSnapshot = { id: '7', reference: '20664', paymentType: null, paymentDate: null };

  test('reads the bill again: a PUT made by a crashed attempt or a reset run is not sent twice', async () => {
    const { armado, armadoPool } = rig();
    armadoPool
      .intercept({ path: '/v1/bill?reference=20664', method: 'GET' })
      .reply(200, [{ id: 7, reference: '20664', paymentType: 2, paymentDate: '2024-01-15T00:00:00.000000' }], json);
    // No PUT is intercepted: the MockAgent refuses any request not declared above.
    const { updateArmadoBillPayment } = createArmadoActivities({ armado, timeZone: 'Europe/Paris' });
    await expect(updateArmadoBillPayment({ ...payment, bill: staleSnapshot })).resolves.toEqual({
      status: 'already-up-to-date',
      billId: '7',
      paymentType: 2,
      paymentDate: payment.paymentDate,
    });
  });

  test('PUTs when the fresh bill differs; a bill gone since the search is ArmadoBillNotFound', async () => {
    const { armado, armadoPool } = rig();
    armadoPool.intercept({ path: '/v1/bill?reference=20664', method: 'GET' }).reply(200, [{ id: 7, reference: '20664', paymentType: 1, paymentDate: null }], json);
    armadoPool
      .intercept({ path: '/v1/bill/7', method: 'PUT', body: JSON.stringify({ paymentType: 2, paymentDate: payment.paymentDate }) })
      .reply(200, { id: 7, reference: '20664' }, json);
    armadoPool.intercept({ path: '/v1/bill?reference=20664', method: 'GET' }).reply(200, [], json);
    const { updateArmadoBillPayment } = createArmadoActivities({ armado, timeZone: 'Europe/Paris' });
    await expect(updateArmadoBillPayment({ ...payment, bill: staleSnapshot })).resolves.toMatchObject({ status: 'updated', billId: '7' });
    expect(await failureOf(updateArmadoBillPayment({ ...payment, bill: staleSnapshot }))).toMatchObject({ type: 'ArmadoBillNotFound', nonRetryable: false });
  });
});
