// Properties of the one input schema every entry point validates with (client, CLI, intake, workflow, backfill):
// every well-formed payment is accepted as it is; every payment with one broken field is refused, naming that
// field. Generated with fast-check (fixed seed: a failure replays).
import fc from 'fast-check';
import { PaymentInputError, validatePaymentSyncInput } from '../../src/client/payment-sync-client';
import { parsePaymentDate } from '../../src/domain/dates';
import { checkPaymentInput } from '../../src/domain/payment-input';
import { BUILT_IN_PAYMENT_MODES, buildPaymentModeTable, normalizePaymentMode } from '../../src/domain/payment-modes';

const SEED = 20261127;
const modes = buildPaymentModeTable();

const isoDate = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });
const paymentDate = fc.oneof(
  isoDate.map((d) => d.toISOString().slice(0, 10)),
  isoDate.map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')),
  fc.tuple(isoDate, fc.integer({ min: -12, max: 14 })).map(([d, h]) => `${d.toISOString().slice(0, 19)}${h < 0 ? '-' : '+'}${String(Math.abs(h)).padStart(2, '0')}:00`),
);
const validInput = fc.record(
  {
    invoiceNumber: fc.stringMatching(/^\d{1,20}$/),
    paymentMode: fc.tuple(fc.constantFrom(...Object.keys(BUILT_IN_PAYMENT_MODES)), fc.boolean()).map(([m, shout]) => (shout ? ` ${m.toUpperCase()} ` : m)),
    paymentDate,
    tempoStatus: fc.integer({ min: 100, max: 599 }),
    amount: fc.integer({ min: 1, max: 100_000_000 }).map((cents) => cents / 100),
    dossier: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    paymentId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,100}$/),
  },
  { requiredKeys: ['invoiceNumber', 'paymentMode', 'paymentDate', 'tempoStatus'] },
);

const notString = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
const notNumber = fc.oneof(fc.string({ maxLength: 20 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));

/** One field broken in one way: [field, bad value]. */
const brokenField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constantFrom('invoiceNumber', 'paymentMode', 'paymentDate', 'dossier', 'paymentId'), notString),
  fc.tuple(fc.constantFrom('tempoStatus', 'amount'), notNumber),
  fc.tuple(
    fc.constant('invoiceNumber'),
    fc.string({ maxLength: 30 }).filter((s) => !/^\d{1,20}$/.test(s.trim())),
  ),
  fc.tuple(
    fc.constant('invoiceNumber'),
    fc.integer({ min: 21, max: 5_000 }).map((n) => '7'.repeat(n)),
  ),
  fc.tuple(
    fc.constant('paymentMode'),
    fc.oneof(
      fc.constant('   '),
      fc.integer({ min: 65, max: 5_000 }).map((n) => 'x'.repeat(n)),
    ),
  ),
  fc.tuple(
    fc.constant('paymentDate'),
    fc
      .oneof(fc.string({ maxLength: 40 }), fc.constantFrom('2024-02-30', '2024-13-01', '15/01/2024', '2024-01-15T10:30:00', '2024-01-15T25:00:00Z', 'demain'))
      .filter((d) => parsePaymentDate(d.trim()) === undefined),
  ),
  fc.tuple(
    fc.constant('tempoStatus'),
    fc.oneof(
      fc.integer({ min: -1_000, max: 99 }),
      fc.integer({ min: 600, max: 100_000 }),
      fc.double({ min: 100.01, max: 598.99, noNaN: true }).filter((n) => !Number.isInteger(n)),
    ),
  ),
  fc.tuple(
    fc.constant('amount'),
    fc.oneof(
      fc.double({ max: 0, noNaN: true }),
      fc.double({ min: 1_000_000_001, max: 1e15, noNaN: true }),
      fc.integer({ min: 1, max: 99_999 }).map((n) => n + 0.001),
    ),
  ),
  fc.tuple(
    fc.constant('dossier'),
    fc.oneof(
      fc.constant(''),
      fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/^[A-Za-z0-9_-]{1,64}$/.test(s.trim())),
    ),
  ),
  fc.tuple(
    fc.constant('paymentId'),
    fc.integer({ min: 101, max: 2_000 }).map((n) => 'p'.repeat(n)),
  ),
);

test('every well-formed payment is accepted, trimmed, and nothing else is added', () => {
  fc.assert(
    fc.property(validInput, (input) => {
      const check = checkPaymentInput(input);
      expect(check).toEqual({ ok: true, input: { ...input, paymentMode: input.paymentMode.trim() } });
      expect(validatePaymentSyncInput(input, modes)).toMatchObject({ invoiceNumber: input.invoiceNumber });
    }),
    { numRuns: 500, seed: SEED },
  );
});

test('a payment with one broken field is refused, naming that field (and only fields that are wrong)', () => {
  fc.assert(
    fc.property(validInput, brokenField, (input, [field, value]) => {
      const check = checkPaymentInput({ ...input, [field]: value });
      expect(check.ok).toBe(false);
      if (!check.ok) expect([...new Set(check.problems.map((p) => p.field))]).toEqual([field]);
    }),
    { numRuns: 1_000, seed: SEED },
  );
});

test('a required field missing, an unknown field, or not an object: refused, and the problem says which', () => {
  fc.assert(
    fc.property(
      validInput,
      fc.subarray(['invoiceNumber', 'paymentMode', 'paymentDate', 'tempoStatus'], { minLength: 1 }),
      fc
        .string({ minLength: 1, maxLength: 20 })
        .filter((k) => !['invoiceNumber', 'paymentMode', 'paymentDate', 'tempoStatus', 'amount', 'dossier', 'paymentId', '__proto__'].includes(k)),
      (input, missing, unknown) => {
        const without = checkPaymentInput(Object.fromEntries(Object.entries(input).filter(([k]) => !missing.includes(k))));
        expect(without.ok || without.problems.map((p) => p.field).sort()).toEqual([...missing].sort());
        const extra = checkPaymentInput({ ...input, [unknown]: 1 });
        expect(extra.ok || extra.problems).toEqual([{ field: unknown, message: expect.stringContaining('unknown field; accepted fields: invoiceNumber,') }]);
      },
    ),
    { numRuns: 300, seed: SEED },
  );
  for (const notObject of [null, 1, 'x', [1], true])
    expect(checkPaymentInput(notObject)).toEqual({ ok: false, problems: [{ field: '(input)', message: 'must be a JSON object' }] });
});

test('an unknown payment mode is refused with the accepted ones listed; case, accents and spaces do not matter', () => {
  fc.assert(
    fc.property(
      validInput,
      fc.string({ minLength: 1, maxLength: 64 }).filter((m) => m.trim().length > 0 && !modes.has(normalizePaymentMode(m))),
      (input, mode) => {
        const err = (() => {
          try {
            validatePaymentSyncInput({ ...input, paymentMode: mode }, modes);
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(PaymentInputError);
        expect((err as PaymentInputError).type).toBe('UnknownPaymentMode');
        expect((err as PaymentInputError).problems[0]?.message).toContain('accepted modes: autre, carte, cash, cb, cheque');
      },
    ),
    { numRuns: 300, seed: SEED },
  );
  expect(validatePaymentSyncInput({ invoiceNumber: '1', paymentMode: ' Chèque ', paymentDate: '2024-01-15', tempoStatus: 200 }, modes).paymentMode).toBe('Chèque');
});
