// Armado-side steps: find the one bill whose reference is the invoice number, then record its payment, in the
// order of the invoice's payments (DESIGN §1): never over a later one, and after any earlier one still in flight.
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ErrorType, permanentFailure, transientFailure } from '../domain/errors';
import { armadoDateInstants, billAgainst } from '../domain/payment-order';
import { sameArmadoDate } from '../domain/dates';
import type { ArmadoBill, ArmadoOutcome } from '../domain/shapes';
import type { ArmadoClient } from '../apis/armado';
import { metrics } from '../metrics';
import { activityLog } from './log';

export interface UpdateArmadoBillPaymentArgs {
  invoiceNumber: string;
  bill: ArmadoBill;
  paymentType: number;
  paymentDate: string;
  /**
   * The ledger's order decided (the writer made this payment the invoice's row): send unless the bill already
   * carries it. Absent (a run from before, or the ledger step failed for good): compared with the bill in the one order.
   */
  latest?: boolean;
  /** The payment's instant (seconds); absent in runs from before it, then read from `paymentDate`. */
  paymentInstant?: number;
  /** Runs whose payment the ledger row showed before this one: the bill is written once they are done. */
  after?: string[];
}

export interface ArmadoActivityDeps {
  armado: ArmadoClient;
  /** ARMADO_TIMEZONE: the bill's dates are wall clock there. */
  timeZone: string;
  /** Whether a run is still open; by default asked of Temporal through the activity's client. */
  isRunning?: (workflowId: string) => Promise<boolean>;
  /** How long one attempt waits for earlier runs before handing back to Temporal's retry. */
  waitSliceMs?: number;
}

const POLL_MS = 1_000;

async function runIsOpen(workflowId: string): Promise<boolean> {
  try {
    const run = await Context.current().client.workflow.getHandle(workflowId).describe();
    return run.type === 'paymentSyncWorkflow' && run.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false; // a workflow id a person typed into the ledger
    throw err;
  }
}

export function createArmadoActivities(deps: ArmadoActivityDeps) {
  const isRunning = deps.isRunning ?? runIsOpen;
  const waitSliceMs = deps.waitSliceMs ?? 5_000;

  /**
   * Returns once none of `runs` is open any more. One attempt waits a slice of time; past it, a retryable failure
   * hands the wait to Temporal (a second later, no history event): the step's own timeouts stay short.
   */
  async function afterEarlierRuns(runs: string[], invoiceNumber: string): Promise<void> {
    const until = Date.now() + waitSliceMs;
    for (;;) {
      const open: string[] = [];
      for (const id of runs) if (await isRunning(id)) open.push(id);
      if (open.length === 0) return;
      if (Date.now() >= until) {
        throw transientFailure(
          ErrorType.EarlierPaymentInProgress,
          `an earlier payment of invoice ${invoiceNumber} is still being written to Armado (${open.join(', ')}); waiting for it`,
          POLL_MS,
        );
      }
      await sleep(POLL_MS);
    }
  }

  return {
    async findArmadoBill(args: { invoiceNumber: string }): Promise<ArmadoBill> {
      const bills = await deps.armado.searchBills(args.invoiceNumber);
      // Armado's search also returns near matches ("206640" for "20664"): only an exact reference counts.
      const exact = bills.filter((bill) => bill.reference.trim() === args.invoiceNumber);
      if (exact.length === 0) {
        metrics().billNotFound();
        activityLog('warn', 'no Armado bill with this reference yet', { invoiceNumber: args.invoiceNumber, nearMatches: bills.length });
        throw transientFailure(
          ErrorType.ArmadoBillNotFound,
          `Armado has no bill with reference ${args.invoiceNumber}` +
            (bills.length
              ? ` (only near matches: ${bills
                  .slice(0, 5)
                  .map((b) => b.reference)
                  .join(', ')})`
              : ''),
        );
      }
      if (exact.length > 1) {
        metrics().billAmbiguous();
        throw permanentFailure(
          ErrorType.ArmadoBillAmbiguous,
          `Armado has ${exact.length} bills with reference ${args.invoiceNumber} (ids ${exact.map((b) => b.id).join(', ')}); fix them in Armado, then reset the run`,
          { billIds: exact.map((b) => b.id) },
        );
      }
      const bill = exact[0] as ArmadoBill;
      activityLog('info', 'Armado bill found', { invoiceNumber: args.invoiceNumber, billId: bill.id });
      return bill;
    },

    /**
     * Sends the PUT only when the bill does not already carry this payment, and — unless the ledger's order made
     * this payment the invoice's latest — only when the bill carries no later one. The bill is read again first,
     * after any earlier run the ledger names is done: the snapshot from findArmadoBill predates their PUTs.
     */
    async updateArmadoBillPayment(args: UpdateArmadoBillPaymentArgs): Promise<ArmadoOutcome> {
      const { paymentType, paymentDate } = args;
      if (args.after?.length) await afterEarlierRuns(args.after, args.invoiceNumber);
      const bill = (await deps.armado.searchBills(args.invoiceNumber)).find((b) => b.id === args.bill.id);
      if (!bill) {
        throw transientFailure(ErrorType.ArmadoBillNotFound, `Armado bill ${args.bill.id} (reference ${args.invoiceNumber}) no longer exists`);
      }
      if (bill.paymentType === paymentType && sameArmadoDate(bill.paymentDate, paymentDate)) {
        activityLog('info', 'Armado bill already carries this payment: nothing sent', { invoiceNumber: args.invoiceNumber, billId: bill.id });
        return { status: 'already-up-to-date', billId: bill.id, paymentType, paymentDate };
      }
      if (!args.latest) {
        const instant = args.paymentInstant ?? armadoDateInstants(paymentDate, deps.timeZone)[0] ?? 0;
        const shown = billAgainst(bill.paymentDate, instant, deps.timeZone);
        if (shown === 'later' || shown === 'same-instant') {
          activityLog('info', 'Armado bill carries a later payment: kept, nothing sent', {
            invoiceNumber: args.invoiceNumber,
            billId: bill.id,
            billPaymentDate: bill.paymentDate,
            thisPaymentDate: paymentDate,
          });
          return { status: 'kept-later-payment', billId: bill.id, paymentType: bill.paymentType ?? paymentType, paymentDate: bill.paymentDate as string };
        }
      }
      await deps.armado.updateBillPayment(bill.id, { paymentType, paymentDate }, args.invoiceNumber);
      activityLog('info', 'Armado bill marked paid', { invoiceNumber: args.invoiceNumber, billId: bill.id, paymentType, paymentDate });
      return { status: 'updated', billId: bill.id, paymentType, paymentDate };
    },
  };
}
