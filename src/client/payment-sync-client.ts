// Starting a payment sync from TypeScript: validated input, the DESIGN §2 workflow id, no double processing.
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ErrorType } from '../domain/errors';
import { checkPaymentInput, type InputProblem, type PaymentSyncInput } from '../domain/payment-input';
import { acceptedPaymentModes, normalizePaymentMode, type PaymentModeTable } from '../domain/payment-modes';
import { runningMemo } from '../domain/run-summary';
import type { paymentSyncWorkflow } from '../workflows/payment-sync';
import { InvoiceNumberKey, PaymentModeKey, SyncOutcomeKey } from '../workflows/contract';

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
}

export interface StartedPaymentSync {
  workflowId: string;
  runId: string;
  /** True when this payment already had a run: that run is returned, nothing new starts. */
  duplicate: boolean;
  handle: WorkflowHandle<typeof paymentSyncWorkflow>;
}

export async function startPaymentSync(client: Client, raw: unknown, options: StartPaymentSyncOptions): Promise<StartedPaymentSync> {
  const input = validatePaymentSyncInput(raw, options.paymentModes);
  const workflowId = paymentWorkflowId(input, options.defaultDossier);
  try {
    const handle = await client.workflow.start<typeof paymentSyncWorkflow>('paymentSyncWorkflow', {
      workflowId,
      taskQueue: options.taskQueue,
      args: [input],
      // Any earlier run of this payment, running or closed, makes the start fail: the caller gets that run.
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
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
    return { workflowId, runId: description.runId, duplicate: true, handle };
  }
}
