// Tempo-side steps: the gate that nothing moves without Tempo's 200, and the fully-paid check.
import { parsePaymentDate, formatArmadoDate, toWallClock } from '../domain/dates';
import { formatLedgerPaymentDate, paymentInstant } from '../domain/payment-order';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, permanentFailure } from '../domain/errors';
import { parsePaymentInput, type PaymentSyncInput } from '../domain/payment-input';
import { resolvePaymentMode, type PaymentModeTable } from '../domain/payment-modes';
import type { ConfirmedPayment, InvoiceStatus } from '../domain/shapes';
import type { TempoClient } from '../apis/tempo';
import type { StepTimeouts } from '../config';
import { activityLog } from './log';

export interface TempoActivityDeps {
  tempo: TempoClient;
  defaultDossier: string;
  timeZone: string;
  paymentModes: PaymentModeTable;
  billSearch: { intervalMs: number; giveUpAfterMs: number };
  timeouts: StepTimeouts;
}

/** The refusal `fn` throws, with `details` attached (ApplicationFailure's details are set when it is made). */
function withDetails<T>(fn: () => T, details: unknown): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ApplicationFailure && err.nonRetryable) throw permanentFailure(err.type as ErrorType, err.message, details);
    throw err;
  }
}

export function createTempoActivities(deps: TempoActivityDeps) {
  return {
    /**
     * Settles everything the run needs from configuration (mode → paymentType, dates in the Armado
     * time zone, the bill-search schedule) so that its history, not the worker's environment, decides.
     */
    async confirmTempoUpdate(raw: PaymentSyncInput): Promise<ConfirmedPayment> {
      const input = parsePaymentInput(raw);
      // Past this point the input is valid: a refusal carries it, so that the run records whose payment it refused.
      const known = { input };
      if (input.tempoStatus !== 200) {
        throw permanentFailure(
          ErrorType.TempoUpdateNotConfirmed,
          `Tempo did not confirm the payment of invoice ${input.invoiceNumber}: FACTUREREGLEMENT answered ${input.tempoStatus}, not 200; nothing was written`,
          known,
        );
      }
      const { mode, paymentType } = withDetails(() => resolvePaymentMode(input.paymentMode, deps.paymentModes), known);
      const date = parsePaymentDate(input.paymentDate);
      if (!date) throw permanentFailure(ErrorType.InvalidPaymentInput, `paymentDate "${input.paymentDate}" is not a valid date`, known);
      const wallClock = toWallClock(date, deps.timeZone);
      activityLog('info', 'Tempo confirmed the payment', { invoiceNumber: input.invoiceNumber, paymentMode: mode, paymentType });
      return {
        invoiceNumber: input.invoiceNumber,
        dossier: input.dossier ?? deps.defaultDossier,
        paymentMode: mode,
        paymentType,
        armadoPaymentDate: formatArmadoDate(wallClock),
        ledgerPaymentDate: formatLedgerPaymentDate(date, deps.timeZone),
        paymentInstant: paymentInstant(date, deps.timeZone),
        amount: input.amount,
        input,
        billSearch: deps.billSearch,
        timeouts: deps.timeouts,
      };
    },

    async checkInvoiceFullyPaid(args: { dossier: string; invoiceNumber: string }): Promise<InvoiceStatus> {
      const status = await deps.tempo.getInvoice(args.dossier, args.invoiceNumber);
      activityLog('info', status.fullyPaid ? 'invoice fully paid in Tempo' : 'invoice partially paid in Tempo', { invoiceNumber: args.invoiceNumber, dossier: args.dossier });
      return status;
    },
  };
}
