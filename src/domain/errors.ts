// The closed set of failure types (DESIGN §6) and the one way to raise them as Temporal failures.
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';

export const ErrorType = {
  TempoUpdateNotConfirmed: 'TempoUpdateNotConfirmed',
  InvalidPaymentInput: 'InvalidPaymentInput',
  UnknownPaymentMode: 'UnknownPaymentMode',
  TempoInvoiceNotFound: 'TempoInvoiceNotFound',
  TempoAuthFailed: 'TempoAuthFailed',
  ArmadoAuthFailed: 'ArmadoAuthFailed',
  SheetsAuthFailed: 'SheetsAuthFailed',
  ArmadoValidationFailed: 'ArmadoValidationFailed',
  ArmadoBillAmbiguous: 'ArmadoBillAmbiguous',
  ArmadoBillNotFound: 'ArmadoBillNotFound',
  // Not in §6 but needed to classify the rest of what the APIs can answer.
  SheetsRequestRejected: 'SheetsRequestRejected',
  ExternalApiUnavailable: 'ExternalApiUnavailable',
  UnexpectedApiResponse: 'UnexpectedApiResponse',
  /** The ledger sheet moved under a write (a person edited it): retried at once after a fresh read. */
  LedgerChangedDuringWrite: 'LedgerChangedDuringWrite',
  /** An earlier payment of the invoice is still on its way to the Armado bill: this one is written after it. */
  EarlierPaymentInProgress: 'EarlierPaymentInProgress',
  /** The run an Armado update belongs to was terminated or reset while it waited: it sends nothing (no one reads this). */
  RunNoLongerOpen: 'RunNoLongerOpen',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types that no retry can fix: a retry policy lists them so even a mis-thrown one stops at once. */
export const NON_RETRYABLE_TYPES: readonly ErrorType[] = [
  ErrorType.TempoUpdateNotConfirmed,
  ErrorType.InvalidPaymentInput,
  ErrorType.UnknownPaymentMode,
  ErrorType.TempoInvoiceNotFound,
  ErrorType.TempoAuthFailed,
  ErrorType.ArmadoAuthFailed,
  ErrorType.SheetsAuthFailed,
  ErrorType.ArmadoValidationFailed,
  ErrorType.ArmadoBillAmbiguous,
  ErrorType.SheetsRequestRejected,
];

export function permanentFailure(type: ErrorType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined ? undefined : [details],
  });
}

/** A failure worth retrying; `retryAfterMs` (from a Retry-After header) overrides the policy's backoff once. */
export function transientFailure(type: ErrorType, message: string, retryAfterMs?: number): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: false,
    nextRetryDelay: retryAfterMs === undefined ? undefined : retryAfterMs,
  });
}

/**
 * The DESIGN §6 type of any error a run can meet: an activity's ApplicationFailure keeps its type; a step
 * that ran out of time (its retries exhausted by a schedule-to-close or start-to-close timeout) is the
 * transient row of §6, `ExternalApiUnavailable`; anything else keeps its name.
 */
export function failureTypeOf(err: unknown): string {
  let cause: unknown = err;
  // ActivityFailure / ChildWorkflowFailure / WorkflowFailedError wrap the failure that says what happened.
  while (cause instanceof Error && (cause.name === 'ActivityFailure' || cause.name === 'WorkflowFailedError' || cause.name === 'ChildWorkflowFailure') && cause.cause) {
    cause = cause.cause;
  }
  if (cause instanceof ApplicationFailure && cause.type) return cause.type;
  if (cause instanceof TimeoutFailure) return ErrorType.ExternalApiUnavailable;
  return cause instanceof Error ? cause.name : 'Error';
}

/** The message of the failure that `failureTypeOf` names. */
export function failureMessageOf(err: unknown): string {
  let cause: unknown = err;
  while (cause instanceof Error && (cause.name === 'ActivityFailure' || cause.name === 'WorkflowFailedError' || cause.name === 'ChildWorkflowFailure') && cause.cause) {
    cause = cause.cause;
  }
  if (cause instanceof TimeoutFailure)
    return `no answer in time (${cause.timeoutType !== undefined ? `timeout type ${cause.timeoutType}` : 'timed out'}); the API stayed unavailable through every retry`;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Type and message together, for what prints a failure (CLI, demo, doctor, the client's view). */
export function describeFailure(err: unknown): { type: string; message: string } {
  return { type: failureTypeOf(err), message: failureMessageOf(err) };
}
