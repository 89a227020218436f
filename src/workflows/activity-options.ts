// How each step of the current workflows is run and retried: one named set per step, read by every workflow.
// (Runs started by older versions replay with the options their own files give: those are frozen with them.)
import type { Duration } from '@temporalio/common';
import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/workflow';
import { ErrorType, NON_RETRYABLE_TYPES } from '../domain/errors';
import type { LedgerSettings } from './ledger-protocol';

/** Transient failures (network, timeout, 5xx, 429) retry with backoff; the DESIGN §6 permanent ones do not. */
function retry(maximumInterval: Duration, extraNonRetryable: string[] = []): RetryPolicy {
  return { initialInterval: '1s', backoffCoefficient: 2, maximumInterval, nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES, ...extraNonRetryable] };
}

/**
 * A payment run's steps run first as local activities: one marker event each, inside the run's workflow task, no
 * task of their own. A worker that dies mid-step is noticed when that workflow task times out (10 s); the next
 * worker runs the step again, which every step allows (they are idempotent). A few quick attempts (1 s, then 2 s
 * apart: a blip) stay in the worker at no history cost. A step still failing after them, with a cause that a retry
 * may fix, goes on as a remote activity with the day of retries below: the server retries it (no event per try),
 * a long outage holds no workflow task open, and a time-skipping test skips its waits.
 * The start-to-close is a backstop above the worst case the configuration allows (each HTTP call has its own
 * deadline, at most 90 s + margin): it never decides a normal failure.
 */
function paymentStep(startToCloseTimeout: Duration, extraNonRetryable: string[] = []): { local: LocalActivityOptions; remote: ActivityOptions } {
  return {
    local: { startToCloseTimeout, localRetryThreshold: '10 seconds', retry: { ...retry('5 minutes', extraNonRetryable), maximumAttempts: LOCAL_ATTEMPTS } },
    remote: { startToCloseTimeout, heartbeatTimeout: '10 seconds', scheduleToCloseTimeout: '1 day', retry: retry('5 minutes', extraNonRetryable) },
  };
}

/** Attempts of a step in the worker before the server takes over its retries. */
export const LOCAL_ATTEMPTS = 3;

export const PAYMENT_STEP_OPTIONS = {
  /** No HTTP: settles the input against the worker's configuration. */
  confirmTempoUpdate: paymentStep('1 minute'),
  /** One FACTURE read. */
  checkInvoiceFullyPaid: paymentStep('2 minutes'),
  /** One search. A missing bill is waited for by the run on its schedule, not retried in place. */
  findArmadoBill: paymentStep('2 minutes', [ErrorType.ArmadoBillNotFound]),
  /** Its turn at the bill (5 s slices), a read and a PUT. A 404 sends the run back to the search. */
  updateArmadoBillPayment: paymentStep('4 minutes', [ErrorType.ArmadoBillNotFound]),
  /** No HTTP: queues the row with the writer (a signal to Temporal); the run then waits for the answer. */
  updatePaymentSheet: paymentStep('1 minute'),
};

/** The ledger writer's answer to a batch's runs: a few signals; failures only cost a re-queue by the runs. */
export const REPLY_LEDGER_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 10 },
};

/** The writer's batch: its start-to-close comes with the requests (the workers' Sheets timeout). */
export function writeLedgerBatchOptions(settings: Pick<LedgerSettings, 'writeTimeoutMs'>): Omit<ActivityOptions, 'cancellationType'> {
  return {
    startToCloseTimeout: settings.writeTimeoutMs,
    heartbeatTimeout: '10 seconds',
    // Bounded so that the writer regains control (to roll over, to take new settings) during a long outage.
    scheduleToCloseTimeout: '5 minutes',
    retry: retry('30s'),
  };
}

export const RECONCILE_OPTIONS = {
  /** A page of candidates, the Rapprochement row. */
  listAndRecord: { startToCloseTimeout: '2 minutes', scheduleToCloseTimeout: '1 hour', retry: retry('5 minutes') },
  /**
   * A page at the slowest allowed rate, with each call's own timeout; the heartbeat hands a dead worker's
   * page to another worker, which resumes after the last invoice it heartbeated.
   */
  inspect: { startToCloseTimeout: '30 minutes', heartbeatTimeout: '30 seconds', scheduleToCloseTimeout: '6 hours', retry: retry('5 minutes') },
} satisfies Record<string, ActivityOptions>;
