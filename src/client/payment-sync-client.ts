// Starting a payment sync from TypeScript: validated input, the DESIGN §2 workflow id, no double processing.
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { describeFailure, ErrorType } from '../domain/errors';
import { checkPaymentInput, type InputProblem, type PaymentSyncInput } from '../domain/payment-input';
import { acceptedPaymentModes, normalizePaymentMode, type PaymentModeTable } from '../domain/payment-modes';
import type { PaymentSyncResult, PaymentSyncStatus } from '../domain/shapes';
import { runningMemo, type PaymentSyncMemo } from '../domain/run-summary';
import type { paymentSyncWorkflow } from '../workflows/payment-sync';
import { InvoiceNumberKey, PaymentModeKey, retryArmadoNowSignal, statusQuery, SyncOutcomeKey } from '../workflows/contract';

export class PaymentInputError extends Error {
  constructor(
    readonly type: typeof ErrorType.InvalidPaymentInput | typeof ErrorType.UnknownPaymentMode,
    readonly problems: InputProblem[],
  ) {
    super(`invalid payment input: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    this.name = 'PaymentInputError';
  }
}

/** The caller's paymentId, else a short stable hash of what identifies the payment. */
export function paymentKey(input: PaymentSyncInput): string {
  if (input.paymentId) return input.paymentId;
  const identity = [input.amount === undefined ? '' : input.amount.toFixed(2), input.paymentDate, normalizePaymentMode(input.paymentMode)].join('|');
  return createHash('sha256').update(identity).digest('hex').slice(0, 12);
}

export function paymentWorkflowId(input: PaymentSyncInput, defaultDossier: string): string {
  return `payment-sync-${input.dossier ?? defaultDossier}-${input.invoiceNumber}-${paymentKey(input)}`;
}

/** Validates like the workflow does, plus the payment mode when the caller knows the mode table. */
export function validatePaymentSyncInput(raw: unknown, paymentModes?: PaymentModeTable): PaymentSyncInput {
  const check = checkPaymentInput(raw);
  if (!check.ok) throw new PaymentInputError(ErrorType.InvalidPaymentInput, check.problems);
  if (paymentModes && !paymentModes.has(normalizePaymentMode(check.input.paymentMode))) {
    throw new PaymentInputError(ErrorType.UnknownPaymentMode, [
      { field: 'paymentMode', message: `"${check.input.paymentMode}" is not a known payment mode; accepted modes: ${acceptedPaymentModes(paymentModes).join(', ')}` },
    ]);
  }
  return check.input;
}

export interface StartPaymentSyncOptions {
  taskQueue: string;
  defaultDossier: string;
  paymentModes?: PaymentModeTable;
  /**
   * A payment whose runs all failed, were refused, terminated or timed out may run again under its id (Temporal's
   * reuse policy for failed runs). A payment running or synced is still never started twice.
   */
  retryFailed?: boolean;
}

export interface StartedPaymentSync {
  workflowId: string;
  runId: string;
  /** True when this payment already had a run: that run is returned, nothing new starts. */
  duplicate: boolean;
  /** With `duplicate`: how that run stands (RUNNING, COMPLETED, FAILED…) and, when it failed, its DESIGN §6 type. */
  existing?: { status: string; failureType?: string };
  handle: WorkflowHandle<typeof paymentSyncWorkflow>;
}

/** Closed without syncing: a later start may take the id with `retryFailed`. */
export const FAILED_STATUSES: ReadonlySet<string> = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED']);

export async function startPaymentSync(client: Client, raw: unknown, options: StartPaymentSyncOptions): Promise<StartedPaymentSync> {
  const input = validatePaymentSyncInput(raw, options.paymentModes);
  const workflowId = paymentWorkflowId(input, options.defaultDossier);
  try {
    const handle = await client.workflow.start<typeof paymentSyncWorkflow>('paymentSyncWorkflow', {
      workflowId,
      taskQueue: options.taskQueue,
      args: [input],
      // Any earlier run of this payment, running or closed, makes the start fail: the caller gets that run;
      // with retryFailed, one that closed without syncing does not.
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: options.retryFailed ? 'ALLOW_DUPLICATE_FAILED_ONLY' : 'REJECT_DUPLICATE',
      // Readable in the UI before any worker has picked the run up; the workflow keeps the memo current.
      memo: { ...runningMemo(input) },
      staticSummary: `Invoice ${input.invoiceNumber} · ${input.paymentMode} · ${input.paymentDate}${input.amount === undefined ? '' : ` · ${input.amount.toFixed(2)} €`}`,
      typedSearchAttributes: [
        { key: InvoiceNumberKey, value: input.invoiceNumber },
        { key: PaymentModeKey, value: normalizePaymentMode(input.paymentMode) },
        { key: SyncOutcomeKey, value: 'running' },
      ],
    });
    return { workflowId, runId: handle.firstExecutionRunId, duplicate: false, handle };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const handle = client.workflow.getHandle<typeof paymentSyncWorkflow>(workflowId);
    const description = await handle.describe();
    const memo = description.memo as Partial<PaymentSyncMemo> | undefined;
    const failureType = FAILED_STATUSES.has(description.status.name) ? (typeof memo?.failureType === 'string' ? memo.failureType : description.status.name) : undefined;
    return { workflowId, runId: description.runId, duplicate: true, existing: { status: description.status.name, failureType }, handle };
  }
}

/** What a caller can read about one payment sync, running or closed. */
export interface PaymentSyncView {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, CANCELLED, TIMED_OUT… */
  status: string;
  /** The SyncOutcome search attribute: running, synced, partially-paid or failed. */
  outcome?: string;
  invoiceNumber?: string;
  summary?: string;
  startedAt: string;
  closedAt?: string;
  /** The `status` query while the run is open (omitted if no worker answers in time). */
  progress?: PaymentSyncStatus;
  result?: PaymentSyncResult;
  failure?: { type: string; message: string };
}

const PROGRESS_QUERY_TIMEOUT_MS = 3_000;

/** Status and, once closed, the result or failure of a payment sync; undefined if the id is unknown. */
export async function describePaymentSync(client: Client, workflowId: string, runId?: string): Promise<PaymentSyncView | undefined> {
  const handle = client.workflow.getHandle<typeof paymentSyncWorkflow>(workflowId, runId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const memo = description.memo as Partial<PaymentSyncMemo> | undefined;
  const view: PaymentSyncView = {
    workflowId,
    runId: description.runId,
    status: description.status.name,
    outcome: description.typedSearchAttributes.get(SyncOutcomeKey),
    invoiceNumber: description.typedSearchAttributes.get(InvoiceNumberKey),
    summary: typeof memo?.summary === 'string' ? memo.summary : undefined,
    startedAt: description.startTime.toISOString(),
    closedAt: description.closeTime?.toISOString(),
  };
  const pinned = client.workflow.getHandle<typeof paymentSyncWorkflow>(workflowId, description.runId);
  if (description.status.name === 'RUNNING') {
    // A query needs a worker; without one the caller still gets everything else at once.
    view.progress = await client.connection.withDeadline(Date.now() + PROGRESS_QUERY_TIMEOUT_MS, () => pinned.query(statusQuery)).catch(() => undefined);
  } else if (description.status.name === 'COMPLETED') {
    view.result = await pinned.result();
  } else {
    view.failure = await pinned.result().then(
      () => ({ type: description.status.name, message: 'closed without a result' }),
      (err: unknown) => failureSummary(err, description.status.name),
    );
  }
  return view;
}

/** The run's DESIGN §6 failure; a run that was terminated, cancelled or timed out reads as its status. */
function failureSummary(err: unknown, status: string): { type: string; message: string } {
  const failure = describeFailure(err);
  return status === 'FAILED' ? failure : { type: status, message: failure.message };
}

/** Every payment sync of one invoice, newest first. */
export async function findPaymentSyncs(
  client: Client,
  invoiceNumber: string,
): Promise<Pick<PaymentSyncView, 'workflowId' | 'runId' | 'status' | 'outcome' | 'summary' | 'startedAt'>[]> {
  if (!/^\d{1,32}$/.test(invoiceNumber)) throw new PaymentInputError(ErrorType.InvalidPaymentInput, [{ field: 'invoiceNumber', message: 'must be digits' }]);
  const found = [];
  for await (const e of client.workflow.list({ query: `WorkflowType="paymentSyncWorkflow" AND InvoiceNumber="${invoiceNumber}"` })) {
    const memo = e.memo as Partial<PaymentSyncMemo> | undefined;
    found.push({
      workflowId: e.workflowId,
      runId: e.runId,
      status: e.status.name,
      outcome: e.typedSearchAttributes.get(SyncOutcomeKey),
      summary: typeof memo?.summary === 'string' ? memo.summary : undefined,
      startedAt: e.startTime.toISOString(),
    });
  }
  return found.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** Waits for the run's result; a failed run throws WorkflowFailedError (its cause is the ApplicationFailure). */
export async function paymentSyncResult(client: Client, workflowId: string): Promise<PaymentSyncResult> {
  return client.workflow.getHandle<typeof paymentSyncWorkflow>(workflowId).result();
}

/** Ends a wait for a missing Armado bill: the run looks again at once. */
export async function retryArmadoNow(client: Client, workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).signal(retryArmadoNowSignal);
}

/** The same operations bound to one client and its options. */
export class PaymentSyncClient {
  constructor(
    readonly client: Client,
    readonly options: StartPaymentSyncOptions,
  ) {}

  start(input: unknown): Promise<StartedPaymentSync> {
    return startPaymentSync(this.client, input, this.options);
  }

  describe(workflowId: string): Promise<PaymentSyncView | undefined> {
    return describePaymentSync(this.client, workflowId);
  }

  findByInvoice(invoiceNumber: string) {
    return findPaymentSyncs(this.client, invoiceNumber);
  }

  result(workflowId: string): Promise<PaymentSyncResult> {
    return paymentSyncResult(this.client, workflowId);
  }

  retryArmadoNow(workflowId: string): Promise<void> {
    return retryArmadoNow(this.client, workflowId);
  }
}
