// PaymentSyncInput: the one schema every entry point (client, workflow, intake) validates with.
import { z } from 'zod';
import { parsePaymentDate } from './dates';
import { ErrorType, permanentFailure } from './errors';

export const PaymentSyncInputSchema = z
  .object({
    invoiceNumber: z
      .string({ error: 'must be a string of digits (the Tempo IdFacture)' })
      .trim()
      .regex(/^\d{1,20}$/, 'must be the Tempo invoice number: 1 to 20 digits, e.g. "20664"'),
    paymentMode: z
      .string({ error: 'must be a string naming a payment mode, e.g. "virement"' })
      .trim()
      .min(1, 'must name a payment mode, e.g. "virement"')
      .max(64, 'must be at most 64 characters'),
    paymentDate: z
      .string({ error: 'must be a string: "YYYY-MM-DD" or an ISO 8601 date-time with offset' })
      .trim()
      .refine((s) => parsePaymentDate(s) !== undefined, {
        message: 'must be "YYYY-MM-DD" or an ISO 8601 date-time with offset, e.g. "2024-01-15T10:30:00+01:00"',
      }),
    tempoStatus: z
      .number({ error: 'must be the integer HTTP status FACTUREREGLEMENT answered' })
      .int('must be an integer HTTP status')
      .min(100, 'must be an HTTP status (100-599)')
      .max(599, 'must be an HTTP status (100-599)'),
    amount: z
      .number({ error: 'must be a number of euros, e.g. 795.6' })
      .positive('must be greater than 0')
      .max(1_000_000_000, 'must be at most 1,000,000,000')
      .refine((n) => Math.round(n * 100) / 100 === n, 'must have at most 2 decimals (cents)')
      .optional(),
    dossier: z
      .string({ error: 'must be a string' })
      .trim()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"')
      .optional(),
    paymentId: z
      .string({ error: 'must be a string' })
      .trim()
      .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1 to 100 letters, digits, ".", "_", ":" or "-"')
      .optional(),
  })
  .strict();

export type PaymentSyncInput = z.output<typeof PaymentSyncInputSchema>;

export interface InputProblem {
  field: string;
  message: string;
}

export function describeProblems(error: z.ZodError): InputProblem[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return {
        field: issue.keys.join(', '),
        message: `unknown field; accepted fields: ${Object.keys(PaymentSyncInputSchema.shape).join(', ')}`,
      };
    }
    return { field: issue.path.length ? issue.path.join('.') : '(input)', message: issue.message };
  });
}

export type InputCheck = { ok: true; input: PaymentSyncInput } | { ok: false; problems: InputProblem[] };

export function checkPaymentInput(raw: unknown): InputCheck {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, problems: [{ field: '(input)', message: 'must be a JSON object' }] };
  }
  const parsed = PaymentSyncInputSchema.safeParse(raw);
  return parsed.success ? { ok: true, input: parsed.data } : { ok: false, problems: describeProblems(parsed.error) };
}

/** Throws a non-retryable `InvalidPaymentInput` naming every bad field. */
export function parsePaymentInput(raw: unknown): PaymentSyncInput {
  const check = checkPaymentInput(raw);
  if (check.ok) return check.input;
  throw permanentFailure(ErrorType.InvalidPaymentInput, `invalid payment input: ${check.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, { problems: check.problems });
}
