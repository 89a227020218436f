// The one order of an invoice's payments (DESIGN §1), used by the ledger writer and the Armado step alike: by the
// instant of the payment date (to the second; a date without a time is 00:00 in ARMADO_TIMEZONE), then a payment
// that settles the invoice after a partial one, then by workflow id, so that every store, worker and replay agrees.
import { parsePaymentDate, toWallClock, wallClockInstants, type PaymentDate } from './dates';

export interface PaymentOrderKey {
  /** Seconds since the epoch: both stores keep the second, no finer. */
  instant: number;
  settling: boolean;
  workflowId: string;
}

/** Negative when `a` comes before `b`, positive after, 0 only for the same payment (same workflow id). */
export function comparePayments(a: PaymentOrderKey, b: PaymentOrderKey): number {
  if (a.instant !== b.instant) return a.instant < b.instant ? -1 : 1;
  if (a.settling !== b.settling) return a.settling ? 1 : -1;
  return a.workflowId < b.workflowId ? -1 : a.workflowId > b.workflowId ? 1 : 0;
}

/** The instant (seconds) of an input payment date: a date alone is midnight in `timeZone`. */
export function paymentInstant(date: PaymentDate, timeZone: string): number {
  if (date.kind === 'instant') return Math.floor(date.epochMs / 1000);
  const midnight = wallClockInstants({ year: date.year, month: date.month, day: date.day, hour: 0, minute: 0, second: 0 }, timeZone);
  return Math.floor((midnight[0] as number) / 1000);
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * The ledger's reading of a payment date, which must give its instant back exactly: `YYYY-MM-DD` for a date alone,
 * `YYYY-MM-DD HH:mm` for a time, `:ss` added when the seconds are not zero, and the offset added in the hour the
 * clocks go back (that hour happens twice: `2024-10-27 02:30 +01:00` is an hour after `… +02:00`).
 */
export function formatLedgerPaymentDate(date: PaymentDate, timeZone: string): string {
  if (date.kind === 'date') return `${date.year}-${pad(date.month)}-${pad(date.day)}`;
  const w = toWallClock(date, timeZone);
  let text = `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}${w.second ? `:${pad(w.second)}` : ''}`;
  if (wallClockInstants(w, timeZone).length > 1) {
    const offsetMin = Math.round((Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(date.epochMs / 1000) * 1000) / 60_000);
    const abs = Math.abs(offsetMin);
    text += ` ${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }
  return text;
}

const LEDGER_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\s*([+-]\d{2}:\d{2}))?)?$/;

/** The instant (seconds) a ledger date denotes; undefined when it does not read as one (a person typed something else). */
export function ledgerDateInstant(text: string, timeZone: string): number | undefined {
  const m = LEDGER_DATE.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (m[4] === undefined) return paymentInstant({ kind: 'date', year, month, day }, timeZone);
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6] ?? '0')];
  if (m[7]) {
    const parsed = parsePaymentDate(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${pad(second)}${m[7]}`);
    return parsed?.kind === 'instant' ? Math.floor(parsed.epochMs / 1000) : undefined;
  }
  // Without an offset the earliest reading: the writer adds the offset whenever there are two.
  const instants = wallClockInstants({ year, month, day, hour, minute, second }, timeZone);
  return Math.floor((instants[0] as number) / 1000);
}

/**
 * The instants an Armado `paymentDate` (wall clock in `timeZone`, no offset) may denote: one, or two in the hour
 * the clocks go back. Empty when it does not read as a date.
 */
export function armadoDateInstants(text: string | null | undefined, timeZone: string): number[] {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec((text ?? '').trim());
  if (!m) return [];
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  return wallClockInstants({ year, month, day, hour, minute, second }, timeZone).map((t) => Math.floor(t / 1000));
}

/** A ledger row as the writer reads it back: its order key, or undefined when its date does not read (the service then owns the row). */
export function ledgerRowKey(row: { status?: string; paymentDate: string; workflowId: string }, timeZone: string): PaymentOrderKey | undefined {
  const instant = ledgerDateInstant(row.paymentDate, timeZone);
  return instant === undefined ? undefined : { instant, settling: row.status === 'Payée', workflowId: row.workflowId };
}

/**
 * True when `candidate` must not replace what `current` shows: it comes earlier in the one order. The same run
 * writing again always may (the bill id filled in, a reset run); a row whose date does not read never blocks a write.
 */
export function isEarlierLedgerPayment(
  current: { status?: string; paymentDate: string; workflowId: string },
  candidate: { status?: string; paymentDate: string; workflowId: string },
  timeZone: string,
): boolean {
  if (current.workflowId && current.workflowId === candidate.workflowId) return false;
  const here = ledgerRowKey(current, timeZone);
  const there = ledgerRowKey(candidate, timeZone);
  if (here === undefined || there === undefined) return false;
  return comparePayments(there, here) < 0;
}

/**
 * What Armado's bill shows compared with a settling payment at `instant` when the ledger's order is not at hand
 * (its step failed for good, or a run from before the order): `later` or `same-instant` keep the bill as it is
 * (Armado keeps no workflow id to break the tie, and a wall clock in the hour that happens twice may be either).
 */
export function billAgainst(billDate: string | null | undefined, instant: number, timeZone: string): 'none' | 'earlier' | 'same-instant' | 'later' {
  const readings = armadoDateInstants(billDate, timeZone);
  if (readings.length === 0) return 'none';
  if (readings.every((t) => t < instant)) return 'earlier';
  if (readings.some((t) => t > instant)) return 'later';
  return 'same-instant';
}
