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

/** A payment run of the invoice as the waiting rule sees it: runs take their turn at the bill in the order they started. */
export interface RunTurn {
  workflowId: string;
  startedAt: number;
  open: boolean;
}

/** Where the Armado step learns about the other runs of its invoice: Temporal, through the activity's client. */
export interface PaymentRuns {
  /** The run this activity belongs to. */
  self(): Promise<RunTurn>;
  /** Open payment runs of the invoice on this task queue (Temporal's visibility, which may lag a little). */
  openOf(invoiceNumber: string): Promise<string[]>;
  /** One run as it stands now (strongly consistent); undefined when no payment run has that id. */
  describe(workflowId: string): Promise<RunTurn | undefined>;
}

export interface ArmadoActivityDeps {
  armado: ArmadoClient;
  /** ARMADO_TIMEZONE: the bill's dates are wall clock there. */
  timeZone: string;
  /** By default Temporal, through the activity's client. */
  runs?: PaymentRuns;
  /** How long one attempt waits for earlier runs before handing back to Temporal's retry. */
  waitSliceMs?: number;
}

const POLL_MS = 1_000;

const temporalRuns: PaymentRuns = {
  async self() {
    // This very run (not the workflow's current one): after a reset, the old run's attempt must not write.
    const { workflowId = '', runId } = Context.current().info.workflowExecution ?? {};
    const run = await Context.current().client.workflow.getHandle(workflowId, runId).describe();
    return { workflowId, startedAt: run.startTime.getTime(), open: run.status.name === 'RUNNING' };
  },
  async openOf(invoiceNumber) {
    const ctx = Context.current();
    const ids: string[] = [];
    const query = `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${ctx.info.taskQueue}" AND InvoiceNumber="${invoiceNumber}" AND ExecutionStatus="Running"`;
    for await (const run of ctx.client.workflow.list({ query })) ids.push(run.workflowId);
    return ids;
  },
  async describe(workflowId) {
    try {
      const run = await Context.current().client.workflow.getHandle(workflowId).describe();
      if (run.type !== 'paymentSyncWorkflow') return undefined;
      return { workflowId, startedAt: run.startTime.getTime(), open: run.status.name === 'RUNNING' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined; // a workflow id a person typed into the ledger
      throw err;
    }
  },
};

function hasContext(): boolean {
  try {
    Context.current();
    return true;
  } catch {
    return false;
  }
}

/** The activity's cancellation (its run terminated, its attempt timed out), when it runs as an activity. */
function cancellation(): AbortSignal | undefined {
  return hasContext() ? Context.current().cancellationSignal : undefined;
}

/** Runs take their turn at one bill in the order they started (then by workflow id): no two ever wait for each other. */
const startedBefore = (a: RunTurn, b: RunTurn) => a.startedAt < b.startedAt || (a.startedAt === b.startedAt && a.workflowId < b.workflowId);

export function createArmadoActivities(deps: ArmadoActivityDeps) {
  const runs = deps.runs ?? temporalRuns;
  const waitSliceMs = deps.waitSliceMs ?? 5_000;

  /**
   * Returns once no other open run of the invoice that started before this one is left: whatever it sends to the bill
   * lands first, and this run reads the bill after it. The candidates are the open runs Temporal lists, and the run the
   * ledger's writer names (the settled payment this one replaced in the row: known even if the list lags). One attempt
   * waits a slice of time; past it, a retryable failure hands the wait to Temporal (a second later, no history event).
   */
  async function waitForTurn(invoiceNumber: string, named: string[]): Promise<void> {
    const me = await runs.self();
    const candidates = new Set([...named, ...(await runs.openOf(invoiceNumber))]);
    candidates.delete(me.workflowId);
    const until = Date.now() + waitSliceMs;
    for (;;) {
      const ahead: string[] = [];
      for (const id of candidates) {
        const run = await runs.describe(id);
        if (run?.open && startedBefore(run, me)) ahead.push(id);
        else candidates.delete(id);
      }
      if (ahead.length === 0) return;
      if (Date.now() >= until) {
        throw transientFailure(
          ErrorType.EarlierPaymentInProgress,
          `an earlier run of invoice ${invoiceNumber} may still write to its Armado bill (${ahead.join(', ')}); this payment is sent after it`,
          POLL_MS,
        );
      }
      await sleep(POLL_MS, undefined, { signal: cancellation() });
    }
  }

  /**
   * Whether this run may still write: an operator may have terminated it (or reset it elsewhere) while it waited its
   * turn, and its activity learns of that only at its next heartbeat. Asked again just before the PUT.
   */
  async function stillMine(): Promise<boolean> {
    cancellation()?.throwIfAborted();
    if (deps.runs === undefined && !hasContext()) return true;
    const me = await runs.self();
    return me.open;
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
     * Sends the PUT only when the bill does not already carry this payment, nor a later one by its own date (a tie, or
     * a wall clock of the hour that happens twice, is the ledger's to decide: `latest`). Runs of one invoice take
     * their turn at the bill in the order they started, so an earlier run's PUT never lands after this one's check.
     * The bill is read again first: the snapshot from findArmadoBill predates their PUTs.
     */
    async updateArmadoBillPayment(args: UpdateArmadoBillPaymentArgs): Promise<ArmadoOutcome> {
      const { paymentType, paymentDate } = args;
      // Runs from before the one order (no `latest`) keep their behaviour: compare with the bill, no turn taken.
      if (args.latest !== undefined) await waitForTurn(args.invoiceNumber, args.after ?? []);
      const bill = (await deps.armado.searchBills(args.invoiceNumber)).find((b) => b.id === args.bill.id);
      if (!bill) {
        throw transientFailure(ErrorType.ArmadoBillNotFound, `Armado bill ${args.bill.id} (reference ${args.invoiceNumber}) no longer exists`);
      }
      if (bill.paymentType === paymentType && sameArmadoDate(bill.paymentDate, paymentDate)) {
        activityLog('info', 'Armado bill already carries this payment: nothing sent', { invoiceNumber: args.invoiceNumber, billId: bill.id });
        return { status: 'already-up-to-date', billId: bill.id, paymentType, paymentDate };
      }
      const instant = args.paymentInstant ?? armadoDateInstants(paymentDate, deps.timeZone)[0] ?? 0;
      const shown = billAgainst(bill.paymentDate, instant, deps.timeZone);
      if (shown === 'later' || (shown === 'same-instant' && !args.latest)) {
        activityLog('info', 'Armado bill carries a later payment: kept, nothing sent', {
          invoiceNumber: args.invoiceNumber,
          billId: bill.id,
          billPaymentDate: bill.paymentDate,
          thisPaymentDate: paymentDate,
        });
        return { status: 'kept-later-payment', billId: bill.id, paymentType: bill.paymentType ?? paymentType, paymentDate: bill.paymentDate as string };
      }
      if (args.latest !== undefined && !(await stillMine())) {
        throw permanentFailure(ErrorType.RunNoLongerOpen, `the run of this payment of invoice ${args.invoiceNumber} is no longer open: nothing sent to Armado`);
      }
      await deps.armado.updateBillPayment(bill.id, { paymentType, paymentDate }, args.invoiceNumber);
      activityLog('info', 'Armado bill marked paid', { invoiceNumber: args.invoiceNumber, billId: bill.id, paymentType, paymentDate });
      return { status: 'updated', billId: bill.id, paymentType, paymentDate };
    },
  };
}
