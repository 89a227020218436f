// A payment run checks the writer's answers without zod (ledger-protocol.ts says why); the zod schema stays the
// definition. Property: the run's check accepts exactly what the schema accepts, and keeps the same fields.
import fc from 'fast-check';
import { ledgerSchemas, parseLedgerReply } from '../../src/workflows/ledger-protocol';

const viaSchema = (raw: unknown) => {
  const parsed = ledgerSchemas().reply.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
};

// Replies near the schema's edges: lengths at and past each bound, wrong types, both branches at once, extra keys.
const text = (max: number) => fc.oneof(fc.string({ maxLength: 3 }), fc.string({ minLength: max - 1, maxLength: max + 1 }), fc.constant(''));
const loose = fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer(), fc.boolean(), fc.string({ maxLength: 2 }), fc.array(fc.integer(), { maxLength: 2 }));
const result = fc.record(
  {
    status: fc.oneof(fc.constantFrom('updated', 'appended', 'kept-later-payment', 'Updated', ''), loose),
    row: fc.oneof(fc.integer({ min: -2, max: 1_000 }), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2), loose),
    armadoAfter: fc.oneof(fc.array(text(1000), { maxLength: 11 }), fc.array(loose, { maxLength: 2 }), loose),
    extra: fc.string(),
  },
  { requiredKeys: [] },
);
const error = fc.record({ type: fc.oneof(text(100), loose), message: fc.oneof(text(2000), loose), extra: fc.string() }, { requiredKeys: [] });
const reply = fc.record({ requestId: fc.oneof(text(200), loose), result: fc.oneof(result, loose), error: fc.oneof(error, loose), extra: fc.string() }, { requiredKeys: [] });

test('parseLedgerReply agrees with the reply schema on replies near its edges', () => {
  fc.assert(
    fc.property(reply, (raw) => {
      expect(parseLedgerReply(raw)).toEqual(viaSchema(raw));
    }),
    { numRuns: 5_000 },
  );
});

test('parseLedgerReply agrees with the reply schema on anything at all', () => {
  fc.assert(
    fc.property(fc.anything(), (raw) => {
      expect(parseLedgerReply(raw)).toEqual(viaSchema(raw));
    }),
    { numRuns: 2_000 },
  );
});

test('both accept what the writer sends, reduced to the known fields', () => {
  const written = { requestId: 'run/1/1', result: { status: 'appended', row: 7, armadoAfter: ['payment-a'] }, note: 'x' };
  expect(parseLedgerReply(written)).toEqual({ requestId: 'run/1/1', result: { status: 'appended', row: 7, armadoAfter: ['payment-a'] } });
  expect(viaSchema(written)).toEqual(parseLedgerReply(written));
});
