// The Armado step's turn at one bill (DESIGN §1: writes to one bill serialized): it waits for the open runs of its
// invoice that started before it, whoever names them, never for later ones, and never sends over a later payment.
import { MockAgent } from 'undici';
import { createArmadoActivities, type PaymentRuns, type RunTurn } from '../../src/activities/armado';
import { ArmadoClient } from '../../src/apis/armado';
import { expectFailure } from '../helpers/failures';

const json = { headers: { 'content-type': 'application/json' } };
const payment = { invoiceNumber: '20664', paymentType: 2, paymentDate: '2024-01-15T10:00:00.000000', paymentInstant: Date.parse('2024-01-15T09:00:00Z') / 1000 };
const snapshot = { id: '7', reference: '20664', paymentType: null, paymentDate: null };

/** Runs of the invoice: this one started at t=10; `listed` is what visibility shows. */
function fakeRuns(others: RunTurn[], listed = others.map((r) => r.workflowId)) {
  const me: RunTurn = { workflowId: 'me', startedAt: 10, open: true };
  const all = new Map([me, ...others].map((r) => [r.workflowId, r]));
  const runs: PaymentRuns = {
    self: async () => me,
    openOf: async () => ['me', ...listed],
    describe: async (id) => all.get(id),
  };
  return { runs, all };
}

function armadoWith(bill: { paymentType: number | null; paymentDate: string | null }, expectPut: boolean) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const pool = agent.get('https://armado.test');
  pool.intercept({ path: '/v1/bill?reference=20664', method: 'GET' }).reply(200, [{ id: 7, reference: '20664', ...bill }], json);
  // Without an intercepted PUT, the MockAgent refuses one: a test that expects none fails if it is sent.
  if (expectPut) pool.intercept({ path: '/v1/bill/7', method: 'PUT' }).reply(200, { id: 7, reference: '20664' }, json);
  return new ArmadoClient({ baseUrl: 'https://armado.test', apiKey: 'k', timeoutMs: 500, dispatcher: agent });
}

test('an open run that started before waits its turn, named by visibility alone; the bill is read after it closed', async () => {
  const { runs, all } = fakeRuns([{ workflowId: 'earlier', startedAt: 5, open: true }]);
  setTimeout(() => ((all.get('earlier') as RunTurn).open = false), 1_500);
  const { updateArmadoBillPayment } = createArmadoActivities({
    armado: armadoWith({ paymentType: 1, paymentDate: '2024-01-10T00:00:00.000000' }, true),
    timeZone: 'Europe/Paris',
    runs,
  });
  const began = Date.now();
  await expect(updateArmadoBillPayment({ ...payment, bill: snapshot, latest: true })).resolves.toMatchObject({ status: 'updated' });
  expect(Date.now() - began).toBeGreaterThanOrEqual(1_400);
});

test('a run the ledger names is waited for even when visibility does not list it yet; later runs never are (they wait for this one)', async () => {
  const { runs, all } = fakeRuns(
    [
      { workflowId: 'named', startedAt: 9, open: true },
      { workflowId: 'later', startedAt: 11, open: true },
    ],
    ['later'],
  );
  setTimeout(() => ((all.get('named') as RunTurn).open = false), 1_200);
  const { updateArmadoBillPayment } = createArmadoActivities({ armado: armadoWith({ paymentType: null, paymentDate: null }, true), timeZone: 'Europe/Paris', runs });
  const began = Date.now();
  await expect(updateArmadoBillPayment({ ...payment, bill: snapshot, latest: true, after: ['named'] })).resolves.toMatchObject({ status: 'updated' });
  expect(Date.now() - began).toBeGreaterThanOrEqual(1_100);
});

test('a wait longer than one slice hands back to Temporal: retryable, a second later', async () => {
  const { runs } = fakeRuns([{ workflowId: 'stuck', startedAt: 1, open: true }]);
  const { updateArmadoBillPayment } = createArmadoActivities({
    armado: armadoWith({ paymentType: null, paymentDate: null }, false),
    timeZone: 'Europe/Paris',
    runs,
    waitSliceMs: 300,
  });
  const failure = await expectFailure(updateArmadoBillPayment({ ...payment, bill: snapshot, latest: true }));
  expect(failure).toMatchObject({ type: 'EarlierPaymentInProgress', nonRetryable: false, message: expect.stringContaining('stuck') });
  expect(failure.nextRetryDelay).toBeDefined();
});

test('never over a later payment the bill shows, even when the ledger made this one the row (a reset run, a person)', async () => {
  const { runs } = fakeRuns([]);
  const later = createArmadoActivities({ armado: armadoWith({ paymentType: 1, paymentDate: '2024-01-20T00:00:00.000000' }, false), timeZone: 'Europe/Paris', runs });
  await expect(later.updateArmadoBillPayment({ ...payment, bill: snapshot, latest: true })).resolves.toMatchObject({ status: 'kept-later-payment', paymentType: 1 });
  // The same instant with another mode: the ledger's order decides (the bill keeps no workflow id to break the tie).
  const tie = createArmadoActivities({ armado: armadoWith({ paymentType: 1, paymentDate: '2024-01-15T10:00:00.000000' }, true), timeZone: 'Europe/Paris', runs });
  await expect(tie.updateArmadoBillPayment({ ...payment, bill: snapshot, latest: true })).resolves.toMatchObject({ status: 'updated' });
  const tieUnordered = createArmadoActivities({ armado: armadoWith({ paymentType: 1, paymentDate: '2024-01-15T10:00:00.000000' }, false), timeZone: 'Europe/Paris', runs });
  await expect(tieUnordered.updateArmadoBillPayment({ ...payment, bill: snapshot, latest: false })).resolves.toMatchObject({ status: 'kept-later-payment' });
});
