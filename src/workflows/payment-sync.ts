// paymentSyncWorkflow: the five steps of DESIGN §1, read top to bottom. Retries are the policies of
// activity-options.ts; bookkeeping (status, memo, search attributes, metric, logs, the failure) is RunRecord's.
// The ledger's single writer puts the invoice's payments in their one order; Armado follows that order: a payment
// the row does not show is not sent, and one that replaced another settled payment is sent after that run is done.
import { ApplicationFailure, condition, isCancellation, patched, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ErrorType, failureTypeOf } from '../domain/errors';
import type { InputCheck, PaymentSyncInput } from '../domain/payment-input';
import { STEPS, type ArmadoBill, type ArmadoOutcome, type ConfirmedPayment, type LedgerRow, type LedgerWriteResult, type PaymentSyncResult } from '../domain/shapes';
import { LOCAL_ATTEMPTS, PAYMENT_STEP_OPTIONS } from './activity-options';
import { retryArmadoNowSignal, statusQuery } from './contract';
import { DEFAULT_LEDGER_REQUEUE_MS, LedgerSteps, ledgerRowWrittenSignal, type QueueLedgerRow } from './ledger-protocol';
import { RunRecord, stepFailure, type StepFailure } from './run-record';

/** Runs started before this patch (ledger by task token) replay through the first legacy function, unchanged. */
export const PAYMENT_SYNC_V2_PATCH = 'payment-sync-v2';
/** Runs started before this patch (ledger and Armado side by side) replay through the second, unchanged. */
export const ONE_ORDER_PATCH = 'one-order-per-invoice';
/** Runs started before this patch ran the same steps as remote activities (V3_STEPS); they replay with them. */
export const LOCAL_STEPS_PATCH = 'local-steps';

/** How a version runs its steps. The steps, their order and every decision are the same in both. */
export interface PaymentStepActivities {
  /**
   * v3 checked its input in the workflow, before anything else. Since, confirmTempoUpdate checks it (the same zod
   * schema, outside the run's sandbox: see ledger-protocol.ts for why a run imports no zod) and returns it.
   */
  checkInput?: (raw: unknown) => InputCheck;
  confirmTempoUpdate: Activities['confirmTempoUpdate'];
  updatePaymentSheet: QueueLedgerRow;
  /** The HTTP steps (v3 took their timeouts from the confirmed payment). */
  forPayment(payment: ConfirmedPayment): Pick<Activities, 'checkInvoiceFullyPaid' | 'findArmadoBill' | 'updateArmadoBillPayment'>;
  /** The search attributes and memo that startPaymentSync set are not upserted again (two events a run). */
  skipKnownUpserts: boolean;
}

type StepFn = (...args: never[]) => Promise<unknown>;

/**
 * A step run locally first; past a few attempts, a cause a retry may fix goes on as a remote activity
 * (activity-options.ts), and the run shows that it waits for the API (`retrying`: status query, SyncWaitingFor).
 */
function localFirst<K extends keyof typeof PAYMENT_STEP_OPTIONS>(step: K, retrying: (err: unknown) => void): Activities[K] {
  const options = PAYMENT_STEP_OPTIONS[step];
  const local = proxyLocalActivities<Activities>(options.local)[step] as StepFn;
  const remote = proxyActivities<Activities>(options.remote)[step] as StepFn;
  const final = new Set(options.remote.retry?.nonRetryableErrorTypes ?? []);
  const run: StepFn = async (...args) => {
    try {
      return await local(...args);
    } catch (err) {
      if (isCancellation(err) || final.has(failureTypeOf(err)) || isNonRetryable(err)) throw err;
      retrying(err);
      return remote(...args);
    }
  };
  return run as unknown as Activities[K];
}

function currentSteps(run: RunRecord): PaymentStepActivities {
  const first = <K extends keyof typeof PAYMENT_STEP_OPTIONS>(step: K) =>
    localFirst(step, (err) => run.waiting(step, `failed ${LOCAL_ATTEMPTS} times (${failureTypeOf(err)}); Temporal retries it for up to a day`, 'api-retry'));
  return {
    confirmTempoUpdate: first('confirmTempoUpdate'),
    updatePaymentSheet: first('updatePaymentSheet'),
    forPayment: () => ({
      checkInvoiceFullyPaid: first('checkInvoiceFullyPaid'),
      findArmadoBill: first('findArmadoBill'),
      updateArmadoBillPayment: first('updateArmadoBillPayment'),
    }),
    skipKnownUpserts: true,
  };
}

export async function paymentSyncWorkflow(raw: PaymentSyncInput): Promise<PaymentSyncResult> {
  // Checked newest first: a run records only the patch of the version it started on. Older versions' code is
  // loaded only by the runs that need it: a run evaluates every module it imports (see ledger-protocol.ts).
  /* eslint-disable @typescript-eslint/no-require-imports */
  if (patched(LOCAL_STEPS_PATCH)) return syncPayment(raw, currentSteps);
  if (patched(ONE_ORDER_PATCH)) {
    const { V3_STEPS } = require('./legacy/payment-sync-v3') as typeof import('./legacy/payment-sync-v3');
    return syncPayment(raw, () => V3_STEPS);
  }
  if (patched(PAYMENT_SYNC_V2_PATCH)) return (require('./legacy/payment-sync-v2') as typeof import('./legacy/payment-sync-v2')).legacyPaymentSyncWorkflowV2(raw);
  return (require('./legacy/payment-sync-v1') as typeof import('./legacy/payment-sync-v1')).legacyPaymentSyncWorkflow(raw);
  /* eslint-enable @typescript-eslint/no-require-imports */
}

async function syncPayment(raw: PaymentSyncInput, stepsOf: (run: RunRecord) => PaymentStepActivities): Promise<PaymentSyncResult> {
  const run: RunRecord = new RunRecord();
  const steps = stepsOf(run);
  const armadoNow = { requested: false };
  const ledger = new LedgerSteps(run, steps.updatePaymentSheet);
  setHandler(statusQuery, () => run.status);
  setHandler(retryArmadoNowSignal, () => void (armadoNow.requested = true));
  setHandler(ledgerRowWrittenSignal, (reply: unknown) => ledger.receive(reply));

  const payment = await confirm(run, raw, steps);
  ledger.requeueAfterMs = payment.timeouts?.ledgerRequeueMs ?? DEFAULT_LEDGER_REQUEUE_MS;
  const http = steps.forPayment(payment);
  const { fullyPaid } = await run
    .step(
      'checkInvoiceFullyPaid',
      () => http.checkInvoiceFullyPaid({ dossier: payment.dossier, invoiceNumber: payment.invoiceNumber }),
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
  const armado = new ArmadoSteps(run, payment, armadoNow, http);
  if (!fullyPaid) {
    const skipped = armado.skip();
    const sheet = await ledger.write(row).catch(failWith(run, 'updatePaymentSheet'));
    return run.completed({ invoiceNumber: payment.invoiceNumber, fullyPaid, outcome: 'partially-paid', sheet: withoutOrder(sheet), armado: skipped }, payment.paymentMode);
  }
  return settle(run, payment, row, ledger, armado);
}

/**
 * Step 1, and the run's record of its (valid) input: nothing unvalidated reaches its search attributes or memo.
 * A payment Tempo did not confirm, or of an unknown mode, fails with its input known (the step says it).
 */
async function confirm(run: RunRecord, raw: PaymentSyncInput, steps: PaymentStepActivities): Promise<ConfirmedPayment> {
  const upserts = { skipKnownUpserts: steps.skipKnownUpserts };
  const step = (input: PaymentSyncInput) =>
    run.step(
      'confirmTempoUpdate',
      () => steps.confirmTempoUpdate(input),
      (p) => `paymentType ${p.paymentType}`,
    );
  if (steps.checkInput) {
    const checked = steps.checkInput(raw);
    if (!checked.ok) run.invalidInput(`invalid payment input: ${checked.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    run.started(checked.input, upserts);
    return step(checked.input).catch(failWith(run, 'confirmTempoUpdate'));
  }
  const payment = await step(raw).catch((err: unknown) => {
    const known = validInputOf(err);
    if (known) run.started(known, upserts);
    return failWith(run, 'confirmTempoUpdate')(err);
  });
  // Always there: a local activity runs on this worker, so its code is this version's.
  run.started(payment.input as PaymentSyncInput, upserts);
  return payment;
}

/** The input confirmTempoUpdate validated before it refused the payment (in the failure's details), if it got that far. */
function validInputOf(err: unknown): PaymentSyncInput | undefined {
  // The step's ApplicationFailure, as the workflow sees it (a local activity's failure may or may not be wrapped).
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const details = (e as { details?: unknown[] }).details;
    const first = Array.isArray(details) ? (details[0] as { input?: PaymentSyncInput } | undefined) : undefined;
    if (first?.input) return first.input;
  }
  return undefined;
}

/**
 * A settled payment: the bill is looked up first so that the ledger row carries its id in one write; a bill not
 * there yet does not hold the row back (the row is written, the search goes on). The row's writer decides the
 * order: a payment it keeps out is not sent to Armado; one it writes goes to Armado after the run it displaced.
 * A ledger step that fails for good does not stop Armado, which then compares with the bill itself.
 */
async function settle(run: RunRecord, payment: ConfirmedPayment, row: LedgerRow, ledger: LedgerSteps, armado: ArmadoSteps): Promise<PaymentSyncResult> {
  const found = await armado.findFirst();
  const failures: StepFailure[] = [];
  if ('failed' in found) failures.push(stepFailure('findArmadoBill', found.failed));
  const bill = 'bill' in found ? found.bill : undefined;

  const written = await settled(ledger.write(bill ? { ...row, armadoBillId: bill.id } : row));
  if ('failed' in written) failures.push(stepFailure('updatePaymentSheet', written.failed));
  const ordered = 'value' in written ? written.value : undefined;

  let outcome: ArmadoOutcome | undefined;
  if (ordered?.status === 'kept-later-payment') {
    // A later payment of the invoice is the row's: it is the one Armado must end on, not this one.
    outcome = armado.keptForLater(bill);
  } else if (!('failed' in found)) {
    const synced = await settled(armado.sync(bill, ordered ? { latest: true, after: ordered.armadoAfter } : { latest: false }));
    if ('failed' in synced) failures.push(stepFailure(armado.failedStep, synced.failed));
    else outcome = synced.value;
  }
  // Named in the order of the steps, whichever failed first.
  if (failures.length > 0 || !ordered || !outcome) return run.fail(failures.sort((a, b) => STEPS.indexOf(a.step) - STEPS.indexOf(b.step)));

  let sheet = withoutOrder(ordered);
  if (!bill && outcome.status !== 'kept-later-payment' && outcome.status !== 'skipped-partial') {
    // Only when the bill was not there at first: its id goes into the row now (unless a later payment owns it).
    const filled = await ledger.write({ ...row, armadoBillId: outcome.billId }).catch(failWith(run, 'updatePaymentSheet'));
    sheet = { status: filled.status === 'kept-later-payment' ? filled.status : sheet.status, row: filled.row };
  }
  return run.completed({ invoiceNumber: payment.invoiceNumber, fullyPaid: true, outcome: 'synced', sheet, armado: outcome }, payment.paymentMode);
}

/** A failure its step marked as final (a DESIGN §6 type is also in the step's list). */
function isNonRetryable(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (e instanceof ApplicationFailure && e.nonRetryable) return true;
  return false;
}

function failWith(run: RunRecord, step: Parameters<typeof stepFailure>[0]): (err: unknown) => never {
  return (err) => run.fail([stepFailure(step, err)]);
}

function settled<T>(promise: Promise<T>): Promise<{ value: T } | { failed: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (failed: unknown) => ({ failed }),
  );
}

/** The result as DESIGN §2 shows it: the writer's ordering note is for the run, not for its callers. */
function withoutOrder(result: LedgerWriteResult): LedgerWriteResult {
  return { status: result.status, row: result.row };
}

/** Steps 4 and 5: find the one bill (waiting for it on a schedule), then record the payment on it. */
class ArmadoSteps {
  failedStep: 'findArmadoBill' | 'updateArmadoBillPayment' = 'updateArmadoBillPayment';
  private readonly find: Activities['findArmadoBill'];
  private readonly update: Activities['updateArmadoBillPayment'];
  private readonly deadline: number;
  /** The first search found no bill: the patient search waits its interval before looking again. */
  private searchedInVain = false;

  constructor(
    private readonly run: RunRecord,
    private readonly payment: ConfirmedPayment,
    private readonly now: { requested: boolean },
    http: Pick<Activities, 'findArmadoBill' | 'updateArmadoBillPayment'>,
  ) {
    // A missing bill (also a 404 on the PUT: deleted and re-created) is waited for here, not retried in place.
    this.find = http.findArmadoBill;
    this.update = http.updateArmadoBillPayment;
    this.deadline = Date.now() + payment.billSearch.giveUpAfterMs;
  }

  skip(): ArmadoOutcome {
    this.run.skipped('findArmadoBill', 'invoice partially paid');
    this.run.skipped('updateArmadoBillPayment', 'invoice partially paid');
    return { status: 'skipped-partial' };
  }

  /** The first search: the bill, not there yet (the search goes on after the ledger write), or a failure for good. */
  async findFirst(): Promise<{ bill: ArmadoBill } | { missing: true } | { failed: unknown }> {
    this.now.requested = false;
    try {
      return { bill: await this.search() };
    } catch (err) {
      if (!isBillNotFound(err)) {
        this.failedStep = 'findArmadoBill';
        return { failed: err };
      }
      this.run.waiting('findArmadoBill', 'no bill yet; the ledger row is written meanwhile');
      this.searchedInVain = true;
      return { missing: true };
    }
  }

  keptForLater(bill: ArmadoBill | undefined): ArmadoOutcome {
    const detail = 'the ledger shows a later payment of this invoice: Armado is left to it';
    this.run.skipped('updateArmadoBillPayment', detail);
    if (!bill) this.run.skipped('findArmadoBill', detail);
    // Armado is not read for it: the bill keeps what the later payment's run sent.
    return { status: 'kept-later-payment', billId: bill?.id ?? '' };
  }

  /** `latest`: the ledger made this the invoice's payment, sent once the runs in `after` are done. */
  async sync(known: ArmadoBill | undefined, order: { latest: boolean; after?: string[] }): Promise<ArmadoOutcome> {
    let bill = known;
    for (;;) {
      bill ??= await this.findPatiently();
      try {
        const target = bill;
        return await this.run.step(
          'updateArmadoBillPayment',
          () =>
            this.update({
              invoiceNumber: this.payment.invoiceNumber,
              bill: target,
              paymentType: this.payment.paymentType,
              paymentDate: this.payment.armadoPaymentDate,
              paymentInstant: this.payment.paymentInstant,
              latest: order.latest,
              after: order.after,
            }),
          (o) => o.status,
          isBillNotFound,
        );
      } catch (err) {
        if (!isBillNotFound(err)) throw err;
        // The bill vanished between search and update: back to the search, on the same schedule.
        this.run.waiting('updateArmadoBillPayment', 'the bill disappeared from Armado; searching again');
        bill = undefined;
      }
    }
  }

  private search(): Promise<ArmadoBill> {
    return this.run.step(
      'findArmadoBill',
      () => this.find({ invoiceNumber: this.payment.invoiceNumber }),
      (b) => `bill ${b.id}`,
      isBillNotFound,
    );
  }

  /** Looks for the bill until it exists, the schedule runs out, or an operator says look now. */
  private async findPatiently(): Promise<ArmadoBill> {
    const { intervalMs } = this.payment.billSearch;
    if (this.searchedInVain) {
      this.searchedInVain = false;
      await this.waitToSearchAgain(intervalMs);
    }
    for (;;) {
      // Cleared before the search, not after: a retryArmadoNow that arrives during a search means "look again".
      this.now.requested = false;
      try {
        return await this.search();
      } catch (err) {
        if (!isBillNotFound(err)) {
          this.failedStep = 'findArmadoBill';
          throw err;
        }
        if (this.deadline - Date.now() <= 0) {
          this.failedStep = 'findArmadoBill';
          throw err;
        }
        await this.waitToSearchAgain(intervalMs);
      }
    }
  }

  private async waitToSearchAgain(intervalMs: number): Promise<void> {
    const wait = Math.max(1, Math.min(intervalMs, this.deadline - Date.now()));
    this.run.waiting('findArmadoBill', `no bill yet; looking again in ${Math.round(wait / 1000)}s or on retryArmadoNow`);
    await condition(() => this.now.requested, wait);
  }
}

function isBillNotFound(err: unknown): boolean {
  return failureTypeOf(err) === ErrorType.ArmadoBillNotFound;
}
