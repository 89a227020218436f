// The one line an operator reads in the Temporal UI (memo `summary`) to know what a run did or why it stopped.
import type { PaymentSyncResult, StepName } from './shapes';

/** Memo of a paymentSyncWorkflow run. `failureType` lets batch tools pick failed runs by cause. */
export interface PaymentSyncMemo {
  summary: string;
  failureType?: string;
  failedSteps?: StepName[];
}

export const MEMO_SUMMARY_MAX = 240;

export interface PaymentFacts {
  invoiceNumber: string;
  paymentMode?: string;
  paymentDate?: string;
  amount?: number;
}

function payment(facts: PaymentFacts): string {
  const parts = [facts.paymentMode, facts.paymentDate, facts.amount !== undefined && `${facts.amount.toFixed(2)} €`];
  return parts.filter(Boolean).join(', ');
}

function clip(line: string): string {
  const oneLine = line.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MEMO_SUMMARY_MAX ? oneLine : `${oneLine.slice(0, MEMO_SUMMARY_MAX - 1)}…`;
}

export function runningMemo(facts: PaymentFacts): PaymentSyncMemo {
  return { summary: clip(`Invoice ${facts.invoiceNumber || '(none)'}: syncing payment ${payment(facts)}`) };
}

export function completedMemo(facts: PaymentFacts, result: PaymentSyncResult): PaymentSyncMemo {
  const ledger = `ledger row ${result.sheet.row} ${result.sheet.status}`;
  if (result.armado.status === 'skipped-partial') {
    return { summary: clip(`Invoice ${facts.invoiceNumber}: partially paid (${payment(facts)}); ${ledger}; Armado left unpaid`) };
  }
  const armado = result.armado.status === 'updated' ? `Armado bill ${result.armado.billId} marked paid` : `Armado bill ${result.armado.billId} already marked paid`;
  return { summary: clip(`Invoice ${facts.invoiceNumber}: fully paid (${payment(facts)}); ${ledger}; ${armado}`) };
}

export function failedMemo(facts: PaymentFacts, failures: { step: StepName; type: string; message: string }[]): PaymentSyncMemo {
  const first = failures[0];
  const what = failures.map((f) => `${f.step} ${f.type}: ${f.message}`).join('; ');
  return {
    summary: clip(`Invoice ${facts.invoiceNumber || '(none)'} FAILED: ${what}`),
    failureType: first?.type,
    failedSteps: failures.map((f) => f.step),
  };
}
