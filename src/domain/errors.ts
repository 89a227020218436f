// The closed set of failure types (DESIGN §6) and the one way to raise them as Temporal failures.
import { ApplicationFailure } from '@temporalio/common';

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
