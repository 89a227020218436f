// paymentSyncWorkflow on the time-skipping test server, activities stubbed: branches, waits of days, failures.
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import { Context } from '@temporalio/activity';
import type { QueueLedgerRowArgs } from '../../src/activities/ledger-step';
import { parsePaymentInput, type PaymentSyncInput } from '../../src/domain/payment-input';
import type { ArmadoOutcome, ConfirmedPayment, LedgerRow, LedgerWriteResult, PaymentSyncResult } from '../../src/domain/shapes';
import { ledgerRowWrittenSignal } from '../../src/workflows/ledger-protocol';
import { retryArmadoNowSignal, statusQuery } from '../../src/workflows/contract';
import { expectFailure } from '../helpers/failures';
import { localStepRecords } from '../helpers/history';
import { LOCAL_ATTEMPTS } from '../../src/workflows/activity-options';
import { startTimeSkipping } from '../helpers/time-skipping';

/** Stand-ins with the real activities' signatures: a stub that takes or returns the wrong shape does not compile. */
type Stubs = Partial<Activities>;

const HOUR = 3_600_000;
const confirmed: ConfirmedPayment = {
  invoiceNumber: '20664',
  dossier: 'D1',
  paymentMode: 'virement',
  paymentType: 2,
  armadoPaymentDate: '2024-01-15T10:30:00.000000',
  ledgerPaymentDate: '2024-01-15 10:30',
  amount: 795.6,
  billSearch: { intervalMs: HOUR / 4, giveUpAfterMs: 72 * HOUR },
};
const input = { invoiceNumber: '20664', paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200, amount: 795.6 };
const bill = { id: '1000', reference: '20664', paymentType: null, paymentDate: null };

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
});
afterAll(async () => env?.teardown());

/** Stands in for the tab's ledger writer: answers the run by signal, as the writer does once the row is written. */
function writer(answer: (row: LedgerRow) => LedgerWriteResult = () => ({ status: 'appended', row: 2 })) {
  return async (args: QueueLedgerRowArgs) => {
    const ctx = Context.current();
    const { workflowId, runId } = ctx.info.workflowExecution as { workflowId: string; runId: string };
    const requestId = `${runId}/${args.write}/${args.attempt}`;
    await ctx.client.workflow.getHandle(workflowId, runId).signal(ledgerRowWrittenSignal, { requestId, result: answer(args.row) });
    return { queued: true as const, requestId, writer: 'stub' };
  };
}

function permanent(type: string, message = type) {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** As the real step: it validates the input (zod) and returns it; a refusal past validation carries it in its details. */
async function confirmAsTheStepDoes(raw: PaymentSyncInput): Promise<ConfirmedPayment> {
  return { ...confirmed, input: parsePaymentInput(raw) };
}
function refusedAsTheStepDoes(type: string, message: string) {
  return async (raw: PaymentSyncInput): Promise<ConfirmedPayment> => {
    throw ApplicationFailure.create({ type, message, nonRetryable: true, details: [{ input: parsePaymentInput(raw) }] });
  };
}

async function run<T>(stubs: Stubs, body: (handle: Awaited<ReturnType<typeof env.client.workflow.start>>) => Promise<T>, workflowInput: unknown = input): Promise<T> {
  const taskQueue = `wf-${randomUUID()}`;
  const activities: Stubs = {
    confirmTempoUpdate: confirmAsTheStepDoes,
    checkInvoiceFullyPaid: async () => ({ fullyPaid: true }),
    updatePaymentSheet: writer(),
    findArmadoBill: async () => bill,
    updateArmadoBillPayment: async () => ({ status: 'updated', billId: '1000', paymentType: 2, paymentDate: confirmed.armadoPaymentDate }),
    ...stubs,
  };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE as string },
    activities,
  });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start('paymentSyncWorkflow', { taskQueue, workflowId: `wf-${randomUUID()}`, args: [workflowInput] });
    return body(handle);
  });
}

test('fully paid: the bill found, one ledger row carrying its id, then Armado updated as the latest payment', async () => {
  const rows: unknown[] = [];
  const update = jest.fn(async (): Promise<ArmadoOutcome> => ({ status: 'updated', billId: '1000', paymentType: 2, paymentDate: confirmed.armadoPaymentDate }));
  const result = await run({ updatePaymentSheet: writer((row) => (rows.push(row), { status: 'appended', row: 7 })), updateArmadoBillPayment: update }, (h) => h.result());
  expect(result).toEqual<PaymentSyncResult>({
    invoiceNumber: '20664',
    fullyPaid: true,
    outcome: 'synced',
    sheet: { status: 'appended', row: 7 },
    armado: { status: 'updated', billId: '1000', paymentType: 2, paymentDate: '2024-01-15T10:30:00.000000' },
  });
  expect(rows).toEqual([expect.objectContaining({ invoiceNumber: '20664', status: 'Payée', paymentMode: 'virement', armadoBillId: '1000' })]);
  expect(update).toHaveBeenCalledWith(expect.objectContaining({ latest: true }));
  expect(update.mock.calls[0]).not.toHaveProperty('0.after');
});

test('the ledger keeps a later payment: Armado is left to that one (nothing sent); one that replaced a settled payment is sent after its run', async () => {
  const update = jest.fn(async (): Promise<ArmadoOutcome> => ({ status: 'updated', billId: '1000', paymentType: 2, paymentDate: confirmed.armadoPaymentDate }));
  const kept = await run({ updatePaymentSheet: writer(() => ({ status: 'kept-later-payment', row: 7 })), updateArmadoBillPayment: update }, (h) => h.result());
  expect(kept).toMatchObject({ outcome: 'synced', sheet: { status: 'kept-later-payment' }, armado: { status: 'kept-later-payment', billId: '1000' } });
  expect(update).not.toHaveBeenCalled();

  const after = await run(
    { updatePaymentSheet: writer(() => ({ status: 'updated', row: 7, armadoAfter: ['payment-sync-D1-20664-earlier'] }) as LedgerWriteResult), updateArmadoBillPayment: update },
    (h) => h.result(),
  );
  expect(after.sheet).toEqual({ status: 'updated', row: 7 });
  expect(update).toHaveBeenCalledWith(expect.objectContaining({ latest: true, after: ['payment-sync-D1-20664-earlier'] }));
});

test('a bill missing at first does not hold the ledger row back: the row is written, then the bill id once Armado is updated', async () => {
  const rows: LedgerRow[] = [];
  let searches = 0;
  const result = await run(
    {
      updatePaymentSheet: writer((row) => (rows.push(row), { status: rows.length === 1 ? 'appended' : 'updated', row: 7 })),
      findArmadoBill: async () => {
        searches += 1;
        if (searches === 1) throw ApplicationFailure.create({ type: 'ArmadoBillNotFound', message: 'no bill yet' });
        return bill;
      },
    },
    (h) => h.result(),
  );
  expect(result).toMatchObject({ outcome: 'synced', sheet: { status: 'appended', row: 7 }, armado: { status: 'updated', billId: '1000' } });
  expect(rows.map((r) => r.armadoBillId)).toEqual([undefined, '1000']);
  expect(searches).toBe(2);
});

test('partially paid: ledger only, Armado never called', async () => {
  const find = jest.fn(async () => bill);
  const result = await run({ checkInvoiceFullyPaid: async () => ({ fullyPaid: false }), findArmadoBill: find }, (h) => h.result());
  expect(result).toMatchObject({ fullyPaid: false, outcome: 'partially-paid', armado: { status: 'skipped-partial' } });
  expect(find).not.toHaveBeenCalled();
});

test('Tempo not confirmed: the run fails with that type and nothing else runs', async () => {
  const sheet = jest.fn(writer());
  const failure = await expectFailure(
    run({ confirmTempoUpdate: refusedAsTheStepDoes('TempoUpdateNotConfirmed', 'FACTUREREGLEMENT answered 500'), updatePaymentSheet: sheet }, (h) => h.result()),
  );
  expect(failure.type).toBe('TempoUpdateNotConfirmed');
  expect(failure.message).toContain('invoice 20664');
  // The step's own failure is the cause (a local activity's failure reaches the workflow as it was thrown).
  expect(failure.cause).toBeInstanceOf(ApplicationFailure);
  expect(failure.cause).toMatchObject({ type: 'TempoUpdateNotConfirmed', message: 'FACTUREREGLEMENT answered 500' });
  expect(sheet).not.toHaveBeenCalled();
});

test('invalid input fails as InvalidPaymentInput in the first step, which checks it; nothing else runs', async () => {
  const check = jest.fn(async () => ({ fullyPaid: true }));
  const sheet = jest.fn(writer());
  const failure = await expectFailure(run({ checkInvoiceFullyPaid: check, updatePaymentSheet: sheet }, (h) => h.result(), { ...input, paymentDate: 'yesterday' }));
  expect(failure.type).toBe('InvalidPaymentInput');
  expect(failure.message).toContain('paymentDate');
  expect(failure.message).toContain('invoice (invalid input)'); // nothing of an invalid input is taken as the invoice's
  expect(check).not.toHaveBeenCalled();
  expect(sheet).not.toHaveBeenCalled();
});

test('a ledger failure does not stop Armado; the run fails naming the ledger step', async () => {
  const update = jest.fn(async (): Promise<ArmadoOutcome> => ({ status: 'updated', billId: '1000', paymentType: 2, paymentDate: confirmed.armadoPaymentDate }));
  const failure = await expectFailure(
    run({ updatePaymentSheet: async () => Promise.reject(permanent('SheetsAuthFailed', 'sheet not shared')), updateArmadoBillPayment: update }, (h) => h.result()),
  );
  expect(failure.type).toBe('SheetsAuthFailed');
  expect(failure.message).toMatch(/updatePaymentSheet failed \(SheetsAuthFailed/);
  expect(update).toHaveBeenCalledTimes(1);
});

test('both branches failing are both named', async () => {
  const failure = await expectFailure(
    run(
      {
        updatePaymentSheet: async () => Promise.reject(permanent('SheetsAuthFailed')),
        findArmadoBill: async () => Promise.reject(permanent('ArmadoBillAmbiguous', 'two bills')),
      },
      (h) => h.result(),
    ),
  );
  expect(failure.message).toMatch(/updatePaymentSheet failed .*findArmadoBill failed \(ArmadoBillAmbiguous/);
  expect(failure.details?.[0]).toEqual([
    { step: 'updatePaymentSheet', type: 'SheetsAuthFailed', message: 'SheetsAuthFailed' },
    { step: 'findArmadoBill', type: 'ArmadoBillAmbiguous', message: 'two bills' },
  ]);
});

test('a bill that never appears: searched every 15 minutes for 3 days, then ArmadoBillNotFound', async () => {
  let searches = 0;
  const notFound = async () => {
    searches += 1;
    throw ApplicationFailure.create({ type: 'ArmadoBillNotFound', message: 'no bill' });
  };
  const started = Date.now();
  const failure = await expectFailure(run({ findArmadoBill: notFound }, (h) => h.result()));
  expect(failure.type).toBe('ArmadoBillNotFound');
  expect(searches).toBe(3 * 24 * 4 + 1);
  expect(Date.now() - started).toBeLessThan(60_000); // three days skipped, not waited
});

test('an API down for longer than a day of retries ends the run with a DESIGN §6 type, not a bare timeout', async () => {
  const unavailable = async () => {
    throw ApplicationFailure.create({ type: 'ExternalApiUnavailable', message: 'Tempo answered 503' });
  };
  let events: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events'] = [];
  const failure = await expectFailure(
    run({ checkInvoiceFullyPaid: unavailable }, async (h) => {
      try {
        return await h.result();
      } finally {
        events = (await h.fetchHistory()).events;
      }
    }),
  );
  expect(failure.type).toBe('ExternalApiUnavailable');
  expect(failure.message).toMatch(/checkInvoiceFullyPaid failed \(ExternalApiUnavailable/);
  // A few attempts in the worker (one marker), then the server's day of retries on one remote activity.
  expect(localStepRecords(events ?? [], 'checkInvoiceFullyPaid')).toEqual([expect.objectContaining({ attempt: LOCAL_ATTEMPTS, failed: true })]);
  expect((events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'checkInvoiceFullyPaid')).toHaveLength(1);
});

test('a 404 on the PUT sends the run back to the bill search at once (not retried in place)', async () => {
  let puts = 0;
  let searches = 0;
  const result = await run(
    {
      findArmadoBill: async () => (searches++, { ...bill, id: searches === 1 ? '1000' : '2000' }),
      updateArmadoBillPayment: async (args: { bill: { id: string } }) => {
        puts += 1;
        if (args.bill.id === '1000') throw ApplicationFailure.create({ type: 'ArmadoBillNotFound', message: 'bill 1000 is gone' });
        return { status: 'updated', billId: args.bill.id, paymentType: 2, paymentDate: confirmed.armadoPaymentDate };
      },
    },
    (h) => h.result(),
  );
  expect(result.armado).toMatchObject({ status: 'updated', billId: '2000' });
  expect({ puts, searches }).toEqual({ puts: 2, searches: 2 });
});

test('a retryArmadoNow that arrives during a search is not lost: the next search follows at once', async () => {
  const scheduledAt: number[] = [];
  const result = await run(
    {
      findArmadoBill: async () => {
        const ctx = Context.current();
        scheduledAt.push(ctx.info.currentAttemptScheduledTimestampMs);
        if (scheduledAt.length > 1) return bill;
        // The operator's signal lands while this search is still on the wire; then the search finds nothing.
        const { workflowId, runId } = ctx.info.workflowExecution as { workflowId: string; runId: string };
        await ctx.client.workflow.getHandle(workflowId, runId).signal(retryArmadoNowSignal);
        await new Promise((r) => setTimeout(r, 300));
        throw ApplicationFailure.create({ type: 'ArmadoBillNotFound', message: 'no bill yet' });
      },
    },
    (h) => h.result(),
  );
  expect(result.armado).toMatchObject({ status: 'updated' });
  expect(scheduledAt).toHaveLength(2);
  expect(scheduledAt[1]! - scheduledAt[0]!).toBeLessThan(60_000); // not the 15-minute schedule
});

test('retryArmadoNow cuts the wait short once the bill exists', async () => {
  let exists = false;
  let searches = 0;
  const result = await run(
    {
      findArmadoBill: async () => {
        searches += 1;
        if (!exists) throw ApplicationFailure.create({ type: 'ArmadoBillNotFound', message: 'no bill yet' });
        return bill;
      },
    },
    async (h) => {
      await env.sleep(50 * 60_000); // searches at 0, 15, 30 and 45 minutes
      await expect(h.query(statusQuery)).resolves.toMatchObject({ steps: { findArmadoBill: { state: 'waiting' } } });
      exists = true;
      await h.signal(retryArmadoNowSignal);
      return h.result();
    },
  );
  expect(result).toMatchObject({ outcome: 'synced' });
  expect(searches).toBe(5);
});

test('a bill deleted between search and update is searched for again', async () => {
  let puts = 0;
  const result = await run(
    {
      updateArmadoBillPayment: async () => {
        puts += 1;
        if (puts === 1) throw ApplicationFailure.create({ type: 'ArmadoBillNotFound', message: 'gone' });
        return { status: 'updated', billId: '1000', paymentType: 2, paymentDate: confirmed.armadoPaymentDate };
      },
    },
    (h) => h.result(),
  );
  expect(result).toMatchObject({ outcome: 'synced' });
  expect(puts).toBe(2);
});

test('a run keeps only answers to requests it made: 100 stale or forged replies first do not crowd out the real one', async () => {
  const queued: number[] = [];
  const result = await run(
    {
      updatePaymentSheet: async (args: QueueLedgerRowArgs) => {
        queued.push(args.attempt);
        // Queued again means the real answer was ignored: fail at once rather than wait for days.
        if (args.attempt > 1) throw permanent('QueuedAgain', 'the run ignored its answer and queued its row again');
        const ctx = Context.current();
        const { workflowId, runId } = ctx.info.workflowExecution as { workflowId: string; runId: string };
        const handle = ctx.client.workflow.getHandle(workflowId, runId);
        for (let i = 0; i < 100; i++) await handle.signal(ledgerRowWrittenSignal, { requestId: `${runId}/9/${i}`, result: { status: 'updated', row: 99 } });
        const requestId = `${runId}/${args.write}/${args.attempt}`;
        await handle.signal(ledgerRowWrittenSignal, { requestId, result: { status: 'appended', row: 2 } });
        return { queued: true as const, requestId, writer: 'stub' };
      },
    },
    (h) => h.result(),
  );
  expect(result.sheet).toEqual({ status: 'appended', row: 2 });
  expect(queued).toEqual([1]);
});

test('a run told that the writer is behind waits that long (and half again) before queuing its row again, 30 s when it is idle', async () => {
  /** The first request is lost (never answered); the writer said it had `backlogMs` of rows ahead of it. */
  const timersWith = (backlogMs: number) =>
    run(
      {
        updatePaymentSheet: async (args: QueueLedgerRowArgs) => {
          if (args.attempt > 1) return writer()(args);
          const { runId } = Context.current().info.workflowExecution as { runId: string };
          return { queued: true as const, requestId: `${runId}/${args.write}/${args.attempt}`, writer: 'stub', writerBacklogMs: backlogMs };
        },
      },
      async (h) => {
        await h.result();
        const events = (await h.fetchHistory()).events ?? [];
        return events.filter((e) => e.timerStartedEventAttributes).map((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds));
      },
    );
  // The first timer is the wait for the lost answer (the second, started as the answer came, is cancelled at once).
  expect((await timersWith(0))[0]).toBe(30);
  expect((await timersWith(300_000))[0]).toBe(30 + 450);
});
