// @deprecated paymentSyncWorkflow as it ran before v2 (ledger by task token), kept unchanged so that runs
// started before v2 replay and finish. Remove once none is open (see docs: changing workflow code).
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  metricMeter,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ErrorType, NON_RETRYABLE_TYPES } from '../../domain/errors';
import { METRIC } from '../../metrics';
import { parsePaymentInput, type PaymentSyncInput } from '../../domain/payment-input';
import { normalizePaymentMode } from '../../domain/payment-modes';
import { completedMemo, failedMemo, runningMemo, type PaymentFacts, type PaymentSyncMemo } from '../../domain/run-summary';
import type { ArmadoBill, ArmadoOutcome, ConfirmedPayment, LedgerRow, LedgerWriteResult, PaymentSyncResult, PaymentSyncStatus, StepName, SyncOutcome } from '../../domain/shapes';
import { InvoiceNumberKey, PaymentModeKey, retryArmadoNowSignal, statusQuery, SyncOutcomeKey } from '../contract';

const nonRetryableErrorTypes = [...NON_RETRYABLE_TYPES];

/** Transient failures (network, timeout, 5xx, 429) retry with backoff for up to a day, then the run fails for an operator. */
const apiCall: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes },
};

const { confirmTempoUpdate } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes },
});
const { checkInvoiceFullyPaid, updateArmadoBillPayment } = proxyActivities<Activities>(apiCall);
const { findArmadoBill } = proxyActivities<Activities>({
  ...apiCall,
  // A missing bill is waited for by the workflow itself, on a schedule that retryArmadoNow can cut short.
  retry: { ...apiCall.retry, nonRetryableErrorTypes: [...nonRetryableErrorTypes, ErrorType.ArmadoBillNotFound] },
});
const { updatePaymentSheet: queueRow } = proxyActivities<Activities>({
  ...apiCall,
  // Completed by the ledger writer once the row is written; if that takes longer (Sheets down), the row is
  // queued again by the next attempt and replaces the stale one.
  startToCloseTimeout: '10 minutes',
});
// The first protocol: the activity, given a bare row, is completed by the writer with the written row's result.
const updatePaymentSheet = (row: LedgerRow) => queueRow(row) as unknown as Promise<LedgerWriteResult>;

interface StepFailure {
  step: StepName;
  type: string;
  message: string;
  cause: Error;
}

function failureOf(step: StepName, err: unknown): StepFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const type = cause instanceof ApplicationFailure && cause.type ? cause.type : ((cause as Error | undefined)?.name ?? 'Error');
  const message = cause instanceof Error ? cause.message : String(cause);
  return { step, type, message, cause: err instanceof Error ? err : new Error(String(err)) };
}

function isFailureOfType(err: unknown, type: string): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === type;
}

export async function legacyPaymentSyncWorkflow(rawInput: PaymentSyncInput): Promise<PaymentSyncResult> {
  const invoiceNumber = typeof rawInput?.invoiceNumber === 'string' ? rawInput.invoiceNumber.trim() : '';
  const status: PaymentSyncStatus = {
    invoiceNumber,
    outcome: 'running',
    currentStep: 'confirmTempoUpdate',
    steps: {
      confirmTempoUpdate: { state: 'pending' },
      checkInvoiceFullyPaid: { state: 'pending' },
      updatePaymentSheet: { state: 'pending' },
      findArmadoBill: { state: 'pending' },
      updateArmadoBillPayment: { state: 'pending' },
    },
  };
  let retryArmadoNow = false;
  setHandler(statusQuery, () => status);
  setHandler(retryArmadoNowSignal, () => {
    retryArmadoNow = true;
  });

  // Runs recorded before the memo existed replay without it; see docs/changing-workflows.md.
  const withMemo = patched('run-memo');
  const facts: PaymentFacts = {
    invoiceNumber,
    paymentMode: typeof rawInput?.paymentMode === 'string' ? rawInput.paymentMode.trim() : undefined,
    paymentDate: typeof rawInput?.paymentDate === 'string' ? rawInput.paymentDate.trim() : undefined,
    amount: typeof rawInput?.amount === 'number' && Number.isFinite(rawInput.amount) ? rawInput.amount : undefined,
  };
  const setMemo = (memo: PaymentSyncMemo) => {
    if (withMemo) upsertMemo({ ...memo });
  };
  setMemo(runningMemo(facts));

  const setOutcome = (outcome: SyncOutcome, failureType?: string) => {
    status.outcome = outcome;
    upsertSearchAttributes([{ key: SyncOutcomeKey, value: outcome }]);
    if (outcome === 'running') return;
    // Neither the counter nor the log line is emitted when a worker replays this history.
    metricMeter.createCounter(METRIC.payments, '', 'Payment syncs that ended, by outcome and failure type').add(1, { outcome, failure_type: failureType ?? 'none' });
    const meta = { invoiceNumber, outcome, ...(failureType ? { failureType } : {}) };
    if (outcome === 'failed') log.warn('payment sync failed', meta);
    else log.info('payment sync finished', meta);
  };
  upsertSearchAttributes([
    ...(invoiceNumber ? [{ key: InvoiceNumberKey, value: invoiceNumber }] : []),
    ...(typeof rawInput?.paymentMode === 'string' ? [{ key: PaymentModeKey, value: normalizePaymentMode(rawInput.paymentMode) }] : []),
    { key: SyncOutcomeKey, value: 'running' },
  ]);

  async function step<T>(name: StepName, run: () => Promise<T>, detail?: (value: T) => string): Promise<T> {
    status.currentStep = name;
    status.steps[name] = { state: 'running' };
    try {
      const value = await run();
      status.steps[name] = { state: 'done', detail: detail?.(value) };
      return value;
    } catch (err) {
      // A missing bill is a wait, not a failure: findBillPatiently decides when it becomes one.
      if (!isFailureOfType(err, ErrorType.ArmadoBillNotFound)) {
        const f = failureOf(name, err);
        status.steps[name] = { state: 'failed', errorType: f.type, message: f.message };
      }
      throw err;
    }
  }

  /** Fails the run with one ApplicationFailure naming the invoice and every failed step. */
  function failRun(failures: StepFailure[]): never {
    setOutcome('failed', failures[0]?.type);
    setMemo(failedMemo(facts, failures));
    status.currentStep = 'done';
    const first = failures[0] as StepFailure;
    throw ApplicationFailure.create({
      type: first.type,
      message: `invoice ${invoiceNumber || '(none)'}: ${failures.map((f) => `${f.step} failed (${f.type}: ${f.message})`).join('; ')}`,
      nonRetryable: true,
      details: [failures.map(({ step: s, type, message }) => ({ step: s, type, message }))],
      cause: failures.length === 1 ? first.cause : undefined,
    });
  }

  let input: PaymentSyncInput;
  let payment: ConfirmedPayment;
  let fullyPaid: boolean;
  try {
    input = parsePaymentInput(rawInput);
  } catch (err) {
    status.steps.confirmTempoUpdate = { state: 'failed', errorType: ErrorType.InvalidPaymentInput, message: (err as Error).message };
    setOutcome('failed', ErrorType.InvalidPaymentInput);
    setMemo(failedMemo(facts, [{ step: 'confirmTempoUpdate', type: ErrorType.InvalidPaymentInput, message: (err as Error).message }]));
    throw err;
  }
  try {
    payment = await step(
      'confirmTempoUpdate',
      () => confirmTempoUpdate(input),
      (p) => `paymentType ${p.paymentType}`,
    );
  } catch (err) {
    failRun([failureOf('confirmTempoUpdate', err)]);
  }
  try {
    ({ fullyPaid } = await step(
      'checkInvoiceFullyPaid',
      () => checkInvoiceFullyPaid({ dossier: payment.dossier, invoiceNumber: payment.invoiceNumber }),
      (s) => (s.fullyPaid ? 'fully paid' : 'partially paid'),
    ));
  } catch (err) {
    failRun([failureOf('checkInvoiceFullyPaid', err)]);
  }

  const row: LedgerRow = {
    invoiceNumber: payment.invoiceNumber,
    status: fullyPaid ? 'Payée' : 'Partiellement payée',
    paymentMode: payment.paymentMode,
    paymentDate: payment.ledgerPaymentDate,
    amount: payment.amount,
    workflowId: workflowInfo().workflowId,
  };

  /** Looks for the bill until it exists, the schedule runs out, or an operator says look now. */
  async function findBillPatiently(deadline: number): Promise<ArmadoBill> {
    for (;;) {
      try {
        return await step(
          'findArmadoBill',
          () => findArmadoBill({ invoiceNumber: payment.invoiceNumber }),
          (b) => `bill ${b.id}`,
        );
      } catch (err) {
        if (!isFailureOfType(err, ErrorType.ArmadoBillNotFound)) throw err;
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          const f = failureOf('findArmadoBill', err);
          status.steps.findArmadoBill = { state: 'failed', errorType: f.type, message: f.message };
          throw err;
        }
        status.steps.findArmadoBill = {
          state: 'waiting',
          detail: `no bill yet; looking again in ${Math.round(Math.min(payment.billSearch.intervalMs, remaining) / 1000)}s or on retryArmadoNow`,
        };
        retryArmadoNow = false;
        await condition(() => retryArmadoNow, Math.min(payment.billSearch.intervalMs, remaining));
      }
    }
  }

  async function syncArmado(): Promise<ArmadoOutcome> {
    const deadline = Date.now() + payment.billSearch.giveUpAfterMs;
    for (;;) {
      const bill = await findBillPatiently(deadline);
      try {
        return await step(
          'updateArmadoBillPayment',
          () => updateArmadoBillPayment({ invoiceNumber: payment.invoiceNumber, bill, paymentType: payment.paymentType, paymentDate: payment.armadoPaymentDate }),
          (o) => o.status,
        );
      } catch (err) {
        // The bill vanished between search and update: search again on the same schedule.
        if (!isFailureOfType(err, ErrorType.ArmadoBillNotFound)) throw err;
      }
    }
  }

  // The ledger and Armado branches run side by side; neither's failure stops the other.
  const [ledger, armado] = await Promise.allSettled([
    step(
      'updatePaymentSheet',
      () => updatePaymentSheet(row),
      (r) => `${r.status} row ${r.row}`,
    ),
    fullyPaid
      ? syncArmado()
      : Promise.resolve<ArmadoOutcome>({ status: 'skipped-partial' }).then((o) => {
          status.steps.findArmadoBill = { state: 'skipped', detail: 'invoice partially paid' };
          status.steps.updateArmadoBillPayment = { state: 'skipped', detail: 'invoice partially paid' };
          return o;
        }),
  ]);
  const failures: StepFailure[] = [];
  if (ledger.status === 'rejected') failures.push(failureOf('updatePaymentSheet', ledger.reason));
  if (armado.status === 'rejected') {
    const failedStep = status.steps.findArmadoBill.state === 'failed' ? 'findArmadoBill' : 'updateArmadoBillPayment';
    failures.push(failureOf(failedStep, armado.reason));
  }
  if (failures.length > 0) failRun(failures);

  let sheet = (ledger as PromiseFulfilledResult<LedgerWriteResult>).value;
  const armadoOutcome = (armado as PromiseFulfilledResult<ArmadoOutcome>).value;
  if (armadoOutcome.status !== 'skipped-partial') {
    // Fill in the ledger's "Bill Armado" column now that the bill is known; the row stays where it is.
    try {
      const filled = await step(
        'updatePaymentSheet',
        () => updatePaymentSheet({ ...row, armadoBillId: armadoOutcome.billId }),
        (r) => `${r.status} row ${r.row}`,
      );
      sheet = { status: sheet.status, row: filled.row };
    } catch (err) {
      failRun([failureOf('updatePaymentSheet', err)]);
    }
  }

  const outcome = fullyPaid ? 'synced' : 'partially-paid';
  const result: PaymentSyncResult = { invoiceNumber: payment.invoiceNumber, fullyPaid, outcome, sheet, armado: armadoOutcome };
  setOutcome(outcome);
  setMemo(completedMemo({ ...facts, paymentMode: payment.paymentMode }, result));
  status.currentStep = 'done';
  return result;
}
