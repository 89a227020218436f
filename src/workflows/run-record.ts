// A payment run's bookkeeping, kept out of the steps: the `status` query, the memo, the search attributes,
// the outcome metric and the log lines, and the one way a run fails (naming the invoice and every failed step).
import { ApplicationFailure, log, metricMeter, patched, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { ErrorType, failureMessageOf, failureTypeOf } from '../domain/errors';
import type { PaymentSyncInput } from '../domain/payment-input';
import { normalizePaymentMode } from '../domain/payment-modes';
import type { PaymentSyncResult, PaymentSyncStatus, StepName, SyncOutcome } from '../domain/shapes';
import { completedMemo, failedMemo, runningMemo, type PaymentFacts } from '../domain/run-summary';
import { METRIC } from '../metrics';
import { InvoiceNumberKey, PaymentModeKey, SyncOutcomeKey, SyncWaitingForKey, type WaitingFor } from './contract';

/** Runs started before this patch never mark what they wait for (their histories have no such upsert). */
export const WAITING_FOR_PATCH = 'waiting-for-attribute';

export interface StepFailure {
  step: StepName;
  type: string;
  message: string;
  cause?: Error;
}

export function stepFailure(step: StepName, err: unknown): StepFailure {
  return { step, type: failureTypeOf(err), message: failureMessageOf(err), cause: err instanceof Error ? err : undefined };
}

export class RunRecord {
  readonly status: PaymentSyncStatus = {
    invoiceNumber: '',
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
  private facts: PaymentFacts = { invoiceNumber: '' };
  /** What the run waits for (SyncWaitingFor), and the step whose success ends that wait. */
  private wait: { kind: WaitingFor; step: StepName } | undefined;
  private marksWaits: boolean | undefined;

  /**
   * Called once the input is valid: nothing unvalidated ever reaches the search attributes or the memo.
   * With skipKnownUpserts, what the start already set (startPaymentSync sets both) is not written again;
   * a run started another way (by hand, an old client) still gets them. Read from the start event: deterministic.
   */
  started(input: PaymentSyncInput, options: { skipKnownUpserts: boolean } = { skipKnownUpserts: false }): void {
    this.status.invoiceNumber = input.invoiceNumber;
    this.facts = { invoiceNumber: input.invoiceNumber, paymentMode: input.paymentMode, paymentDate: input.paymentDate, amount: input.amount };
    const attributes = [
      { key: InvoiceNumberKey, value: input.invoiceNumber },
      { key: PaymentModeKey, value: normalizePaymentMode(input.paymentMode) },
      { key: SyncOutcomeKey, value: 'running' },
    ];
    const memo = runningMemo(this.facts);
    const info = workflowInfo();
    if (!options.skipKnownUpserts || attributes.some(({ key, value }) => info.typedSearchAttributes.get(key) !== value)) upsertSearchAttributes(attributes);
    if (!options.skipKnownUpserts || info.memo?.summary !== memo.summary) upsertMemo({ ...memo });
  }

  /** Runs one step, keeping its state for the `status` query; `waiting` marks a failure that is a wait. */
  async step<T>(name: StepName, run: () => Promise<T>, detail?: (value: T) => string, waiting?: (err: unknown) => boolean): Promise<T> {
    this.status.currentStep = name;
    this.status.steps[name] = { state: 'running' };
    try {
      const value = await run();
      this.status.steps[name] = { state: 'done', detail: detail?.(value) };
      if (this.wait?.step === name) this.markWaiting(undefined);
      return value;
    } catch (err) {
      if (!waiting?.(err)) this.status.steps[name] = { state: 'failed', errorType: failureTypeOf(err), message: failureMessageOf(err) };
      throw err;
    }
  }

  /**
   * A step that waits (for a bill, for the ledger's answer, for an API to come back) is the run's current step;
   * the wait lasts until that step succeeds.
   */
  waiting(name: StepName, detail: string, kind: WaitingFor = name === 'updatePaymentSheet' ? 'ledger' : 'bill'): void {
    this.status.currentStep = name;
    this.status.steps[name] = { state: 'waiting', detail };
    this.markWaiting({ kind, step: name });
  }

  /**
   * Kept in SyncWaitingFor, written only when it changes: a run that never waits writes nothing (and records no
   * patch marker), so the common case costs no event; a run that waits costs a marker and two upserts.
   */
  private markWaiting(wait: { kind: WaitingFor; step: StepName } | undefined): void {
    if (wait?.kind === this.wait?.kind) {
      this.wait = wait;
      return;
    }
    this.marksWaits ??= patched(WAITING_FOR_PATCH);
    this.wait = wait;
    if (this.marksWaits) upsertSearchAttributes([{ key: SyncWaitingForKey, value: wait?.kind ?? null }]);
  }

  skipped(name: StepName, detail: string): void {
    this.status.steps[name] = { state: 'skipped', detail };
  }

  completed(result: PaymentSyncResult, paymentMode: string): PaymentSyncResult {
    this.end(result.outcome);
    upsertMemo({ ...completedMemo({ ...this.facts, paymentMode }, result) });
    return result;
  }

  /** Fails the run with one non-retryable ApplicationFailure of a DESIGN §6 type, naming every failed step. */
  fail(failures: StepFailure[]): never {
    const first = failures[0] as StepFailure;
    for (const f of failures) this.status.steps[f.step] = { state: 'failed', errorType: f.type, message: f.message };
    this.end('failed', first.type);
    upsertMemo({ ...failedMemo(this.facts, failures) });
    throw ApplicationFailure.create({
      type: first.type,
      message: `invoice ${this.facts.invoiceNumber || '(invalid input)'}: ${failures.map((f) => `${f.step} failed (${f.type}: ${f.message})`).join('; ')}`,
      nonRetryable: true,
      details: [failures.map(({ step, type, message }) => ({ step, type, message }))],
      cause: failures.length === 1 ? first.cause : undefined,
    });
  }

  /** Rejected input: the failure is all that is recorded (the input itself is already in the start event). */
  invalidInput(message: string): never {
    return this.fail([{ step: 'confirmTempoUpdate', type: ErrorType.InvalidPaymentInput, message }]);
  }

  private end(outcome: SyncOutcome, failureType?: string): void {
    this.status.outcome = outcome;
    this.status.currentStep = 'done';
    // A closed run waits for nothing: SyncWaitingFor goes with the outcome, in the same command (no extra event).
    upsertSearchAttributes([{ key: SyncOutcomeKey, value: outcome }, ...(this.wait && this.marksWaits ? [{ key: SyncWaitingForKey, value: null }] : [])]);
    // Neither the counter nor the log line is emitted when a worker replays this history.
    metricMeter.createCounter(METRIC.payments, '', 'Payment syncs that ended, by outcome and failure type').add(1, { outcome, failure_type: failureType ?? 'none' });
    const meta = { invoiceNumber: this.facts.invoiceNumber, outcome, ...(failureType ? { failureType } : {}) };
    if (outcome === 'failed') log.warn('payment sync failed', meta);
    else log.info('payment sync finished', meta);
  }
}
