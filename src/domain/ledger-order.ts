// "Latest payment wins" (DESIGN §1) for the ledger: which of two payments of one invoice a row must show.
import type { LedgerRow } from './shapes';

/** `YYYY-MM-DD` or `YYYY-MM-DD HH:mm` (the ledger's reading). Unreadable → undefined. */
function ledgerInstant(text: string): { day: string; time?: string } | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}))?/.exec(text.trim());
  return m ? { day: m[1] as string, time: m[2] } : undefined;
}

export type LedgerPayment = Pick<LedgerRow, 'paymentDate' | 'workflowId'> & { status?: string };

/**
 * True when `candidate` must not replace what `current` shows: it is an earlier payment, or a different
 * payment of the same moment (a tie keeps what is there) — except that the payment settling the invoice
 * wins a tie against a partial one (payments known only by their day often share it). The same run writing
 * again always may. A date a person typed in another form does not block a write: the service owns the row.
 */
export function isOlderLedgerPayment(current: LedgerPayment, candidate: LedgerPayment): boolean {
  if (current.workflowId && current.workflowId === candidate.workflowId) return false;
  const here = ledgerInstant(current.paymentDate);
  const there = ledgerInstant(candidate.paymentDate);
  if (here === undefined || there === undefined) return false;
  // A payment known only by its day is compared by day: "2024-01-15" is not earlier than "2024-01-15 09:00".
  const bothTimed = here.time !== undefined && there.time !== undefined;
  const a = bothTimed ? `${here.day} ${here.time}` : here.day;
  const b = bothTimed ? `${there.day} ${there.time}` : there.day;
  if (a === b) return !(candidate.status === 'Payée' && current.status === 'Partiellement payée');
  return b < a;
}
