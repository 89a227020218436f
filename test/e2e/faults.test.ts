// Right under faults (issue 9): latest payment wins in Armado, a 404 on the PUT goes back to the search,
// bad input fails (never terminates) the run, and the step timeouts cover the HTTP calls they contain.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { retryArmadoNowSignal, statusQuery } from '../../src/workflows/contract';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';
import { eventually, within } from '../helpers/eventually';
import { localStepRecords } from '../helpers/history';

let rig: E2E;
beforeAll(async () => {
  rig = await startE2E({ ARMADO_BILL_RETRY_INTERVAL: '1h' });
});
afterAll(async () => rig?.stop());

let next = 85000;
const invoice = (fullyPaid = true) => addInvoice(rig.sandboxes, String(next++), { fullyPaid });
const rowsOf = (id: string) => rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).filter((r) => r[0] === id);

test('an older payment run late (after a later one marked the bill) changes nothing: kept-later-payment, no extra PUT', async () => {
  const id = invoice();
  const p2 = await rig.start({ invoiceNumber: id, paymentId: 'p2', paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', amount: 60 });
  await p2.handle.result();
  // P1 (a partial cheque of 10 Jan) runs only now: reset after a fix, an intake retry… Tempo says fully paid.
  const p1 = await rig.start({ invoiceNumber: id, paymentId: 'p1', paymentMode: 'cheque', paymentDate: '2024-01-10', amount: 40 });
  const late = await p1.handle.result();
  const [bill] = rig.sandboxes.armado.billsWithReference(id);
  // The ledger's order decides: the row keeps the later payment, so Armado is left to it (not even read again).
  expect(late).toMatchObject({ outcome: 'synced', armado: { status: 'kept-later-payment', billId: String(bill!.id) }, sheet: { status: 'kept-later-payment' } });
  expect(bill).toMatchObject({ paymentType: 2, paymentDate: '2024-01-15T10:30:00.000000' });
  expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
  expect(rowsOf(id)).toEqual([[id, 'Payée', 'virement', '2024-01-15 10:30', '60', String(bill!.id), expect.any(String), p2.workflowId]]);
});

test('a 404 on the PUT (bill deleted and re-created) goes straight back to the search and marks the new bill', async () => {
  const id = invoice();
  const [old] = rig.sandboxes.armado.billsWithReference(id);
  rig.sandboxes.armado.beforePut = (billId) => {
    if (billId !== old!.id) return;
    rig.sandboxes.armado.removeBill(old!.id); // someone deletes the bill and creates it again
    rig.sandboxes.armado.addBill(id);
  };
  try {
    const { handle } = await rig.start({ invoiceNumber: id });
    const result = await within(handle.result(), 30_000, 'the run after a 404 on its PUT');
    const [fresh] = rig.sandboxes.armado.billsWithReference(id);
    expect(result).toMatchObject({ armado: { status: 'updated', billId: String(fresh!.id) } });
  } finally {
    rig.sandboxes.armado.beforePut = undefined;
  }
});

test('a bill deleted under the PUT and not re-created yet: the run waits on the search schedule; retryArmadoNow cuts it short', async () => {
  const id = invoice();
  const [old] = rig.sandboxes.armado.billsWithReference(id);
  rig.sandboxes.armado.beforePut = (billId) => {
    if (billId === old!.id) rig.sandboxes.armado.removeBill(old!.id);
  };
  try {
    const { handle } = await rig.start({ invoiceNumber: id });
    await eventually(async () => (await handle.query(statusQuery)).steps.findArmadoBill.state === 'waiting', 'the run waiting for a bill again');
    rig.sandboxes.armado.addBill(id);
    await handle.signal(retryArmadoNowSignal);
    await expect(within(handle.result(), 30_000, 'the run after retryArmadoNow')).resolves.toMatchObject({ outcome: 'synced', armado: { status: 'updated' } });
  } finally {
    rig.sandboxes.armado.beforePut = undefined;
  }
});

test.each([
  ['a 3,000-character paymentMode', { paymentMode: 'x'.repeat(3000) }],
  ['a 3,000-character invoiceNumber', { invoiceNumber: '9'.repeat(3000) }],
  ['no input at all', null],
])('bad input (%s) fails the run with InvalidPaymentInput, never terminates it, and reaches no search attribute', async (_name, override) => {
  const input = override === null ? null : { invoiceNumber: invoice(), paymentMode: 'virement', paymentDate: '2024-01-15', tempoStatus: 200, ...override };
  const handle = await rig.client.workflow.start('paymentSyncWorkflow', { taskQueue: rig.taskQueue, workflowId: `bad-${next++}`, args: [input] });
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidPaymentInput');
  const run = await handle.describe();
  expect(run.status.name).toBe('FAILED');
  expect(run.typedSearchAttributes.get({ name: 'SyncOutcome', type: 'KEYWORD' } as never)).toBe('failed');
  expect(run.typedSearchAttributes.get({ name: 'PaymentMode', type: 'KEYWORD' } as never)).toBeUndefined();
  expect(JSON.stringify(run.memo)).not.toContain('xxxxxxxxxx');
});

test('each step may run as long as the HTTP calls it makes: a slow PUT (near ARMADO_TIMEOUT) is not retried beside itself', async () => {
  const id = invoice();
  rig.sandboxes.armado.server.injectFault({ method: 'PUT', delayMs: 1_800, times: 1 }); // ARMADO_TIMEOUT is 2 s here
  const { handle } = await rig.start({ invoiceNumber: id });
  await handle.result();
  expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
  const events = (await handle.fetchHistory()).events ?? [];
  // One attempt, which took as long as its calls did: no second attempt was started beside the slow one.
  expect(localStepRecords(events, 'updateArmadoBillPayment')).toEqual([expect.objectContaining({ attempt: 1, failed: false })]);
});
