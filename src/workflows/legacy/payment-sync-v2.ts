// @deprecated paymentSyncWorkflow as it ran from v2 until the one order of payments (ledger and Armado side by
// side, the bill id filled into the ledger by a second write), kept unchanged so that runs started before it replay
// and finish. Remove once none is open (docs/changing-workflows.md).
import { ApplicationFailure, condition, proxyActivities, setHandler, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ErrorType, failureTypeOf, NON_RETRYABLE_TYPES } from '../../domain/errors';
import { checkPaymentInput, type PaymentSyncInput } from '../../domain/payment-input';
import type { ArmadoBill, ArmadoOutcome, ConfirmedPayment, LedgerRow, LedgerWriteResult, PaymentSyncResult } from '../../domain/shapes';
import { retryArmadoNowSignal, statusQuery } from '../contract';
import { ledgerRowWrittenSignal, ledgerSchemas, type LedgerReply } from '../ledger-protocol';
import { RunRecord, stepFailure, type StepFailure } from '../run-record';

const nonRetryableErrorTypes = [...NON_RETRYABLE_TYPES];
/** Defaults for runs whose confirmTempoUpdate predates per-run timeouts (10 s HTTP timeouts). */
const DEFAULT_TIMEOUTS: NonNullable<ConfirmedPayment['timeouts']> = { tempoCallMs: 15_000, armadoCallMs: 15_000, ledgerWriteMs: 210_000, ledgerRequeueMs: 600_000 };
/** A ledger row not written after this long (Sheets down for days) fails the step for an operator. */
const LEDGER_GIVE_UP_MS = 3 * 24 * 3_600_000;
/** …or after this many times queued, whatever LEDGER_REQUEUE_AFTER is: the run's history stays bounded. */
const LEDGER_MAX_QUEUED = 500;

/**
 * Transient failures (network, timeout, 5xx, 429) retry with backoff for up to a day. The start-to-close
 * covers the HTTP calls the activity makes (their own deadlines fire first); the short heartbeat timeout
 * hands a step whose worker died to another worker within seconds.
 */
export function apiCall(startToCloseMs: number, extraNonRetryable: string[] = []): ActivityOptions {
  return {
    startToCloseTimeout: startToCloseMs,
    heartbeatTimeout: '10 seconds',
    scheduleToCloseTimeout: '1 day',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: [...nonRetryableErrorTypes, ...extraNonRetryable] },
  };
}

const { confirmTempoUpdate, updatePaymentSheet } = proxyActivities<Activities>({
  // No HTTP in either: settling the input, and queuing a row with the writer (a signal to Temporal).
  startToCloseTimeout: '30s',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes },
});

export async function legacyPaymentSyncWorkflowV2(raw: PaymentSyncInput): Promise<PaymentSyncResult> {
  const run: RunRecord = new RunRecord();
  const armadoNow = { requested: false };
  const ledgerReplies = new Map<string, LedgerReply>();
  setHandler(statusQuery, () => run.status);
  setHandler(retryArmadoNowSignal, () => void (armadoNow.requested = true));
  setHandler(ledgerRowWrittenSignal, (reply: unknown) => {
    const parsed = ledgerSchemas().reply.safeParse(reply);
    // Kept until the step looks: only answers to requests this run made count (a stale or forged one is ignored).
    if (parsed.success && ledgerReplies.size < 100 && !ledgerReplies.has(parsed.data.requestId)) ledgerReplies.set(parsed.data.requestId, parsed.data as LedgerReply);
  });

  const checked = checkPaymentInput(raw);
  if (!checked.ok) run.invalidInput(`invalid payment input: ${checked.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  const input = checked.input;
  run.started(input);

  const payment = await run
    .step(
      'confirmTempoUpdate',
      () => confirmTempoUpdate(input),
      (p) => `paymentType ${p.paymentType}`,
    )
    .catch(failWith(run, 'confirmTempoUpdate'));
  const timeouts = payment.timeouts ?? DEFAULT_TIMEOUTS;
  const { checkInvoiceFullyPaid } = proxyActivities<Activities>(apiCall(timeouts.tempoCallMs));
  const { fullyPaid } = await run
    .step(
      'checkInvoiceFullyPaid',
      () => checkInvoiceFullyPaid({ dossier: payment.dossier, invoiceNumber: payment.invoiceNumber }),
      (s) => (s.fullyPaid ? 'fully paid' : 'partially paid'),
    )
    .catch(failWith(run, 'checkInvoiceFullyPaid'));

  const row: LedgerRow = {
    invoiceNumber: payment.invoiceNumber,
    status: fullyPaid ? 'Payée' : 'Partiellement payée',
    paymentMode: payment.paymentMode,
    paymentDate: payment.ledgerPaymentDate,
    amount: payment.amount,
    workflowId: workflowInfo().workflowId,
  };
  const ledger = new LedgerSteps(run, ledgerReplies, timeouts.ledgerRequeueMs);
  const armado = new ArmadoSteps(run, payment, armadoNow);

  // The ledger and Armado steps run side by side; neither's failure stops the other.
  const [sheetWrite, armadoSync] = await Promise.allSettled([ledger.write(row), fullyPaid ? armado.sync() : armado.skip()]);
  const failures: StepFailure[] = [];
  if (sheetWrite.status === 'rejected') failures.push(stepFailure('updatePaymentSheet', sheetWrite.reason));
  if (armadoSync.status === 'rejected') failures.push(stepFailure(armado.failedStep, armadoSync.reason));
  if (sheetWrite.status === 'rejected' || armadoSync.status === 'rejected') return run.fail(failures);

  let sheet = sheetWrite.value;
  const outcome = armadoSync.value;
  // Fill in the ledger's "Bill Armado" column now that the bill is known (unless a later payment owns the row).
  if ((outcome.status === 'updated' || outcome.status === 'already-up-to-date') && sheet.status !== 'kept-later-payment') {
    const filled = await ledger.write({ ...row, armadoBillId: outcome.billId }).catch(failWith(run, 'updatePaymentSheet'));
    sheet = { status: filled.status === 'kept-later-payment' ? filled.status : sheet.status, row: filled.row };
  }
  return run.completed({ invoiceNumber: payment.invoiceNumber, fullyPaid, outcome: fullyPaid ? 'synced' : 'partially-paid', sheet, armado: outcome }, payment.paymentMode);
}

function failWith(run: RunRecord, step: Parameters<typeof stepFailure>[0]): (err: unknown) => never {
  return (err) => run.fail([stepFailure(step, err)]);
}

/** Step 3: the row goes to the tab's single writer, which answers by signal once it is in the sheet. */
class LedgerSteps {
  private writes = 0;

  constructor(
    private readonly run: RunRecord,
    private readonly replies: Map<string, LedgerReply>,
    private readonly requeueAfterMs: number,
  ) {}

  write(row: LedgerRow): Promise<LedgerWriteResult> {
    return this.run.step(
      'updatePaymentSheet',
      () => this.queueUntilWritten(row),
      (r) => `${r.status} row ${r.row}`,
    );
  }

  /** Queues the row, waits for the answer; with none in time (a lost reply, Sheets down), queues it again. */
  private async queueUntilWritten(row: LedgerRow): Promise<LedgerWriteResult> {
    const write = ++this.writes;
    const giveUpAt = Date.now() + LEDGER_GIVE_UP_MS;
    const asked: string[] = [];
    const answer = () => asked.map((id) => this.replies.get(id)).find((r) => r !== undefined);
    for (let attempt = 1; ; attempt++) {
      const { requestId } = await updatePaymentSheet({ row, write, attempt });
      asked.push(requestId);
      if (attempt > 1) this.run.waiting('updatePaymentSheet', `row queued again (attempt ${attempt}): no answer from the ledger writer yet`);
      const remaining = giveUpAt - Date.now();
      // A lost answer is noticed within 30 s; then the wait doubles up to LEDGER_REQUEUE_AFTER (a long outage).
      const wait = Math.min(this.requeueAfterMs, 30_000 * 2 ** Math.min(attempt - 1, 10), remaining);
      await condition(() => answer() !== undefined, Math.max(1, wait));
      const reply = answer();
      if (reply && 'result' in reply) return reply.result;
      if (reply) throw ApplicationFailure.create({ type: reply.error.type, message: reply.error.message, nonRetryable: true });
      if (Date.now() >= giveUpAt || attempt >= LEDGER_MAX_QUEUED) {
        throw ApplicationFailure.create({
          type: ErrorType.ExternalApiUnavailable,
          message: `the ledger row of invoice ${row.invoiceNumber} was not written after ${attempt} tries over ${Math.round((Date.now() - giveUpAt + LEDGER_GIVE_UP_MS) / 3_600_000)} h (Google Sheets unavailable?)`,
          nonRetryable: true,
        });
      }
    }
  }
}

/** Steps 4 and 5: find the one bill (waiting for it on a schedule), then record the payment on it. */
class ArmadoSteps {
  failedStep: 'findArmadoBill' | 'updateArmadoBillPayment' = 'updateArmadoBillPayment';
  private readonly find;
  private readonly update;

  constructor(
    private readonly run: RunRecord,
    private readonly payment: ConfirmedPayment,
    private readonly now: { requested: boolean },
  ) {
    const timeouts = payment.timeouts ?? DEFAULT_TIMEOUTS;
    // A missing bill (also a 404 on the PUT: deleted and re-created) is waited for here, not retried in place.
    this.find = proxyActivities<Activities>(apiCall(timeouts.armadoCallMs, [ErrorType.ArmadoBillNotFound])).findArmadoBill;
    this.update = proxyActivities<Activities>(apiCall(2 * timeouts.armadoCallMs, [ErrorType.ArmadoBillNotFound])).updateArmadoBillPayment;
  }

  async skip(): Promise<ArmadoOutcome> {
    this.run.skipped('findArmadoBill', 'invoice partially paid');
    this.run.skipped('updateArmadoBillPayment', 'invoice partially paid');
    return { status: 'skipped-partial' };
  }

  async sync(): Promise<ArmadoOutcome> {
    const deadline = Date.now() + this.payment.billSearch.giveUpAfterMs;
    for (;;) {
      const bill = await this.findPatiently(deadline);
      try {
        return await this.run.step(
          'updateArmadoBillPayment',
          () => this.update({ invoiceNumber: this.payment.invoiceNumber, bill, paymentType: this.payment.paymentType, paymentDate: this.payment.armadoPaymentDate }),
          (o) => o.status,
          isBillNotFound,
        );
      } catch (err) {
        if (!isBillNotFound(err)) throw err;
        // The bill vanished between search and update: back to the search, on the same schedule.
        this.run.waiting('updateArmadoBillPayment', 'the bill disappeared from Armado; searching again');
      }
    }
  }

  /** Looks for the bill until it exists, the schedule runs out, or an operator says look now. */
  private async findPatiently(deadline: number): Promise<ArmadoBill> {
    const { intervalMs } = this.payment.billSearch;
    for (;;) {
      // Cleared before the search, not after: a retryArmadoNow that arrives during a search means "look again".
      this.now.requested = false;
      try {
        return await this.run.step(
          'findArmadoBill',
          () => this.find({ invoiceNumber: this.payment.invoiceNumber }),
          (b) => `bill ${b.id}`,
          isBillNotFound,
        );
      } catch (err) {
        if (!isBillNotFound(err)) {
          this.failedStep = 'findArmadoBill';
          throw err;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          this.failedStep = 'findArmadoBill';
          throw err;
        }
        const wait = Math.min(intervalMs, remaining);
        this.run.waiting('findArmadoBill', `no bill yet; looking again in ${Math.round(wait / 1000)}s or on retryArmadoNow`);
        await condition(() => this.now.requested, wait);
      }
    }
  }
}

function isBillNotFound(err: unknown): boolean {
  return failureTypeOf(err) === ErrorType.ArmadoBillNotFound;
}
