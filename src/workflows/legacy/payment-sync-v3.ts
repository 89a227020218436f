// How runs started on the third version (patch `one-order-per-invoice`, before `local-steps`) run their steps:
// the input checked in the workflow, remote activities with per-run timeouts taken from confirmTempoUpdate's result,
// and the start's search attributes and memo upserted again. Kept, unchanged, so that those runs replay and finish as they began.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ErrorType, NON_RETRYABLE_TYPES } from '../../domain/errors';
import { checkPaymentInput } from '../../domain/payment-input';
import type { ConfirmedPayment } from '../../domain/shapes';
import type { PaymentStepActivities } from '../payment-sync';
// v3 retried its HTTP steps as v2 did: the same options.
import { apiCall } from './payment-sync-v2';

const nonRetryableErrorTypes = [...NON_RETRYABLE_TYPES];
/** Defaults for runs whose confirmTempoUpdate predates per-run timeouts (10 s HTTP timeouts). */
const DEFAULT_TIMEOUTS: NonNullable<ConfirmedPayment['timeouts']> = { tempoCallMs: 15_000, armadoCallMs: 15_000, ledgerWriteMs: 210_000, ledgerRequeueMs: 600_000 };

const noHttp = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
});

/** @deprecated Only for runs started before `local-steps`. */
export const V3_STEPS: PaymentStepActivities = {
  checkInput: checkPaymentInput,
  confirmTempoUpdate: noHttp.confirmTempoUpdate,
  updatePaymentSheet: noHttp.updatePaymentSheet,
  forPayment: (payment) => {
    const timeouts = payment.timeouts ?? DEFAULT_TIMEOUTS;
    return {
      checkInvoiceFullyPaid: proxyActivities<Activities>(apiCall(timeouts.tempoCallMs)).checkInvoiceFullyPaid,
      findArmadoBill: proxyActivities<Activities>(apiCall(timeouts.armadoCallMs, [ErrorType.ArmadoBillNotFound])).findArmadoBill,
      updateArmadoBillPayment: proxyActivities<Activities>(apiCall(2 * timeouts.armadoCallMs, [ErrorType.ArmadoBillNotFound])).updateArmadoBillPayment,
    };
  },
  skipKnownUpserts: false,
};
