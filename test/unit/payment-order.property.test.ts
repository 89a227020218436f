// The one order of an invoice's payments (DESIGN §1), property-tested: a total order; the ledger's reading gives
// each instant back exactly (DST changes included), and the ledger and Armado end on the same payment whatever the
// order two payments arrive in.
import fc from 'fast-check';
import { formatArmadoDate, parsePaymentDate, toWallClock, type PaymentDate } from '../../src/domain/dates';
import {
  billAgainst,
  comparePayments,
  formatLedgerPaymentDate,
  isEarlierLedgerPayment,
  ledgerDateInstant,
  paymentInstant,
  type PaymentOrderKey,
} from '../../src/domain/payment-order';

const TZ = 'Europe/Paris';
const HOUR = 3_600_000;
// Around both changes of 2024 in Paris (31 March, 27 October) and an ordinary day, so that ties and DST meet often.
const AROUND = [Date.UTC(2024, 2, 31, 1), Date.UTC(2024, 9, 27, 1), Date.UTC(2024, 5, 15, 10)];

const pad = (n: number) => String(n).padStart(2, '0');
/** An input date as a caller sends it: a date alone, or a date-time with some offset, to the second. */
const inputDate = fc.oneof(
  fc.record({ base: fc.constantFrom(...AROUND), hours: fc.integer({ min: -30, max: 30 }) }).map(({ base, hours }) => {
    const d = new Date(base + hours * HOUR);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  }),
  fc
    .record({
      base: fc.constantFrom(...AROUND),
      seconds: fc.integer({ min: -4 * 3600, max: 4 * 3600 }),
      offset: fc.constantFrom('Z', '+01:00', '+02:00', '-05:00', '+05:30'),
    })
    .map(({ base, seconds, offset }) => {
      const sign = offset === 'Z' ? 0 : offset.startsWith('-') ? -1 : 1;
      const shift = offset === 'Z' ? 0 : sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6))) * 60_000;
      const local = new Date(base + seconds * 1000 + shift);
      const text = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
      return `${text}${offset}`;
    }),
);

interface Payment {
  date: PaymentDate;
  settling: boolean;
  workflowId: string;
  paymentType: number;
}
const payment = fc
  .record({ text: inputDate, settling: fc.boolean(), workflowId: fc.constantFrom('wf-a', 'wf-b', 'wf-c', 'wf-d'), paymentType: fc.integer({ min: 1, max: 8 }) })
  .map(({ text, ...rest }) => ({ ...rest, date: parsePaymentDate(text) as PaymentDate }));
const key = (p: Payment): PaymentOrderKey => ({ instant: paymentInstant(p.date, TZ), settling: p.settling, workflowId: p.workflowId });
const ledgerRow = (p: Payment) => ({ status: p.settling ? 'Payée' : 'Partiellement payée', paymentDate: formatLedgerPaymentDate(p.date, TZ), workflowId: p.workflowId });
const sign = (n: number) => (n > 0 ? 1 : n < 0 ? -1 : 0);
const RUNS = { seed: 18, numRuns: 400 };

test('a total order: antisymmetric, transitive, and 0 only for the same payment', () => {
  fc.assert(
    fc.property(payment, payment, payment, (a, b, c) => {
      const [ka, kb, kc] = [key(a), key(b), key(c)];
      expect(sign(comparePayments(ka, kb))).toBe(-sign(comparePayments(kb, ka)));
      if (comparePayments(ka, kb) <= 0 && comparePayments(kb, kc) <= 0) expect(comparePayments(ka, kc)).toBeLessThanOrEqual(0);
      if (comparePayments(ka, kb) === 0) expect([ka.instant, ka.settling, ka.workflowId]).toEqual([kb.instant, kb.settling, kb.workflowId]);
    }),
    RUNS,
  );
});

test("the ledger's reading gives the instant back exactly, in the hour that happens twice too", () => {
  fc.assert(
    fc.property(payment, (p) => {
      expect(ledgerDateInstant(formatLedgerPaymentDate(p.date, TZ), TZ)).toBe(paymentInstant(p.date, TZ));
    }),
    RUNS,
  );
  // The two 02:30 of 27 October 2024 in Paris read apart; an ordinary time shows no offset.
  const first = parsePaymentDate('2024-10-27T02:30:00+02:00') as PaymentDate;
  const second = parsePaymentDate('2024-10-27T02:30:00+01:00') as PaymentDate;
  expect([formatLedgerPaymentDate(first, TZ), formatLedgerPaymentDate(second, TZ)]).toEqual(['2024-10-27 02:30 +02:00', '2024-10-27 02:30 +01:00']);
  expect(formatLedgerPaymentDate(parsePaymentDate('2024-01-15T10:30:20+01:00') as PaymentDate, TZ)).toBe('2024-01-15 10:30:20');
  expect(paymentInstant(parsePaymentDate('2024-03-01') as PaymentDate, TZ)).toBeLessThan(paymentInstant(parsePaymentDate('2024-03-01T09:00:00+01:00') as PaymentDate, TZ));
});

test("the ledger's decision is the order's, whichever payment arrives first", () => {
  fc.assert(
    fc.property(payment, payment, (a, b) => {
      fc.pre(a.workflowId !== b.workflowId);
      expect(isEarlierLedgerPayment(ledgerRow(a), ledgerRow(b), TZ)).toBe(comparePayments(key(b), key(a)) < 0);
    }),
    RUNS,
  );
});

/**
 * Two settled payments of one invoice, in either order of arrival: the ledger keeps the later in the order, and the
 * Armado step (sent only for the payment the ledger made the row's, as the writer decides) leaves the bill on the
 * same payment. Without the ledger's decision (its step failed for good), the bill's own date decides: it agrees
 * whenever the two instants read apart on Armado's wall clock, and never puts an earlier payment over a later one.
 */
test('the ledger and Armado end on the same payment for every pair, in both orders', () => {
  const armadoDate = (p: Payment) => formatArmadoDate(toWallClock(p.date, TZ));
  fc.assert(
    fc.property(payment, payment, (x, y) => {
      fc.pre(x.workflowId !== y.workflowId);
      const [a, b] = [
        { ...x, settling: true },
        { ...y, settling: true },
      ];
      const last = comparePayments(key(a), key(b)) > 0 ? a : b;
      for (const [first, second] of [
        [a, b],
        [b, a],
      ] as const) {
        // The ledger: the first one's row, then the second one arrives.
        const row = isEarlierLedgerPayment(ledgerRow(first), ledgerRow(second), TZ) ? first : second;
        // Armado: the first payment was sent (the row was its); the second is sent only if it became the row's.
        const bill = row === second ? second : first;
        expect([row.workflowId, bill.workflowId]).toEqual([last.workflowId, last.workflowId]);

        // The fallback: the bill shows the first payment; the second is compared with it.
        const shown = billAgainst(armadoDate(first), paymentInstant(second.date, TZ), TZ);
        const sent = shown === 'none' || shown === 'earlier';
        if (sent) expect(comparePayments(key(second), key(first))).toBeGreaterThan(0);
        if (paymentInstant(first.date, TZ) !== paymentInstant(second.date, TZ) && armadoDate(first) !== armadoDate(second)) {
          const ambiguous = /T02:\d\d/.test(armadoDate(first)) && armadoDate(first).startsWith('2024-10-27');
          if (!ambiguous) expect(sent ? second : first).toBe(last);
        }
      }
    }),
    RUNS,
  );
});
