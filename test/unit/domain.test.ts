import { ApplicationFailure } from '@temporalio/common';
import { completedMemo, failedMemo, MEMO_SUMMARY_MAX, runningMemo } from '../../src/domain/run-summary';
import { formatArmadoDate, parsePaymentDate, sameArmadoDate, toWallClock } from '../../src/domain/dates';
import { checkPaymentInput, parsePaymentInput } from '../../src/domain/payment-input';
import { buildPaymentModeTable, resolvePaymentMode } from '../../src/domain/payment-modes';
import { paymentKey, paymentWorkflowId, PaymentInputError, validatePaymentSyncInput } from '../../src/client/payment-sync-client';

const armadoDate = (text: string, tz = 'Europe/Paris') => formatArmadoDate(toWallClock(parsePaymentDate(text)!, tz));

describe('payment modes', () => {
  const table = buildPaymentModeTable();
  test.each([
    ['cheque', 1],
    ['Chèque', 1],
    ['  CHÈQUE  ', 1],
    ['virement', 2],
    ['CB', 3],
    ['carte', 3],
    ['Espèces', 4],
    ['liquide', 4],
    ['cash', 4],
    ['Prélèvement', 5],
    ['SEPA', 5],
    ['paypal', 6],
    ['Stripe', 7],
    ['autre', 8],
    ['other', 8],
  ])('%s → %i', (mode, type) => {
    expect(resolvePaymentMode(mode, table).paymentType).toBe(type);
  });

  test('an unknown mode fails non-retryably and lists the accepted ones', () => {
    const err = (() => {
      try {
        resolvePaymentMode('bitcoin', table);
      } catch (e) {
        return e as ApplicationFailure;
      }
    })();
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err?.type).toBe('UnknownPaymentMode');
    expect(err?.nonRetryable).toBe(true);
    expect(err?.message).toContain('accepted modes: autre, carte, cash, cb, cheque');
  });

  test('configured modes extend the table, normalized the same way', () => {
    const extended = buildPaymentModeTable({ 'Lettre de Change': 9 });
    expect(resolvePaymentMode('lettre de change', extended).paymentType).toBe(9);
    expect(resolvePaymentMode('virement', extended).paymentType).toBe(2);
  });
});

describe('Armado dates (Europe/Paris)', () => {
  test.each([
    ['2024-01-15', '2024-01-15T00:00:00.000000'],
    ['2024-01-15T10:30:00+01:00', '2024-01-15T10:30:00.000000'],
    ['2024-01-15T09:30:00Z', '2024-01-15T10:30:00.000000'],
    ['2024-07-15T08:00:00Z', '2024-07-15T10:00:00.000000'], // summer: UTC+2
    ['2024-03-31T00:59:59Z', '2024-03-31T01:59:59.000000'], // last second of winter time
    ['2024-03-31T01:00:00Z', '2024-03-31T03:00:00.000000'], // clocks jump from 02:00 to 03:00
    ['2024-10-27T00:30:00Z', '2024-10-27T02:30:00.000000'], // first 02:30 (summer time)
    ['2024-10-27T01:30:00Z', '2024-10-27T02:30:00.000000'], // second 02:30 (winter time)
    ['2024-12-31T23:30:00Z', '2025-01-01T00:30:00.000000'], // the year turns in Paris first
    ['2024-01-15T10:30:00.123+01:00', '2024-01-15T10:30:00.000000'],
  ])('%s → %s', (input, expected) => {
    expect(armadoDate(input)).toBe(expected);
  });

  test.each(['2024-02-30', '2023-02-29', '2024-13-01', '2024-01-15T10:30:00', '2024-01-15T24:00:00Z', '15/01/2024', '2024-01-15T10:30:00+25:00', ''])('rejects %p', (input) => {
    expect(parsePaymentDate(input)).toBeUndefined();
  });

  test('the same moment compares equal whatever fraction Armado echoes back', () => {
    expect(sameArmadoDate('2024-01-15T10:30:00', '2024-01-15T10:30:00.000000')).toBe(true);
    expect(sameArmadoDate('2024-01-15 10:30:00.000000', '2024-01-15T10:30:00.000000')).toBe(true);
    expect(sameArmadoDate('2024-01-15T10:31:00.000000', '2024-01-15T10:30:00.000000')).toBe(false);
    expect(sameArmadoDate(null, '2024-01-15T10:30:00.000000')).toBe(false);
  });
});

describe('PaymentSyncInput', () => {
  const valid = { invoiceNumber: '20664', paymentMode: 'virement', paymentDate: '2024-01-15', tempoStatus: 200 };

  test('accepts a minimal valid input and trims strings', () => {
    expect(parsePaymentInput({ ...valid, invoiceNumber: ' 20664 ' }).invoiceNumber).toBe('20664');
  });

  test('names every bad field and what it accepts', () => {
    const check = checkPaymentInput({ invoiceNumber: 'F-12', paymentMode: '', paymentDate: '2024-02-30', tempoStatus: '200', amount: 1.234 });
    expect(check.ok).toBe(false);
    const fields = !check.ok ? Object.fromEntries(check.problems.map((p) => [p.field, p.message])) : {};
    expect(fields.invoiceNumber).toMatch(/digits/);
    expect(fields.paymentMode).toMatch(/payment mode/);
    expect(fields.paymentDate).toMatch(/YYYY-MM-DD/);
    expect(fields.tempoStatus).toMatch(/integer HTTP status/);
    expect(fields.amount).toMatch(/2 decimals/);
  });

  test('rejects unknown fields, listing the accepted ones', () => {
    const check = checkPaymentInput({ ...valid, paymentdate: '2024-01-15' });
    expect(check.ok).toBe(false);
    expect(!check.ok && check.problems[0]).toEqual({ field: 'paymentdate', message: expect.stringContaining('accepted fields: invoiceNumber') });
  });

  test('rejects what is not an object', () => {
    for (const raw of [null, [], 'x', 42]) expect(checkPaymentInput(raw).ok).toBe(false);
  });

  test('parsePaymentInput raises a non-retryable InvalidPaymentInput', () => {
    expect(() => parsePaymentInput({ ...valid, tempoStatus: 99 })).toThrow(expect.objectContaining({ type: 'InvalidPaymentInput', nonRetryable: true }));
  });

  test('the client refuses an unknown mode before starting anything', () => {
    expect(() => validatePaymentSyncInput({ ...valid, paymentMode: 'bitcoin' }, buildPaymentModeTable())).toThrow(PaymentInputError);
  });
});

describe('workflow id', () => {
  const input = parsePaymentInput({ invoiceNumber: '20664', paymentMode: 'Chèque', paymentDate: '2024-01-15', tempoStatus: 200, amount: 795.6 });

  test('uses the caller paymentId when given', () => {
    expect(paymentWorkflowId({ ...input, paymentId: 'pay-1' }, 'DEMO')).toBe('payment-sync-DEMO-20664-pay-1');
  });

  test('otherwise a short hash, stable across spellings of the same mode and across calls', () => {
    const key = paymentKey(input);
    expect(key).toMatch(/^[0-9a-f]{12}$/);
    expect(paymentKey({ ...input, paymentMode: 'cheque' })).toBe(key);
    expect(paymentKey({ ...input, amount: 795.61 })).not.toBe(key);
    expect(paymentWorkflowId({ ...input, dossier: 'OTHER' }, 'DEMO')).toBe(`payment-sync-OTHER-20664-${key}`);
  });
});

describe('run memo', () => {
  const facts = { invoiceNumber: '20664', paymentMode: 'virement', paymentDate: '2024-01-15', amount: 795.6 };
  test('one line per outcome, naming invoice, payment, ledger row and bill', () => {
    expect(runningMemo(facts).summary).toBe('Invoice 20664: syncing payment virement, 2024-01-15, 795.60 €');
    const result = {
      invoiceNumber: '20664',
      fullyPaid: true,
      outcome: 'synced' as const,
      sheet: { status: 'appended' as const, row: 5 },
      armado: { status: 'updated' as const, billId: '42', paymentType: 2, paymentDate: 'x' },
    };
    expect(completedMemo(facts, result).summary).toBe('Invoice 20664: fully paid (virement, 2024-01-15, 795.60 €); ledger row 5 appended; Armado bill 42 marked paid');
    expect(completedMemo(facts, { ...result, fullyPaid: false, outcome: 'partially-paid', armado: { status: 'skipped-partial' } }).summary).toBe(
      'Invoice 20664: partially paid (virement, 2024-01-15, 795.60 €); ledger row 5 appended; Armado left unpaid',
    );
  });

  test('a failure memo carries the first type and every failed step, clipped to one short line', () => {
    const memo = failedMemo(facts, [
      { step: 'updatePaymentSheet', type: 'SheetsAuthFailed', message: 'not shared\nwith the service account '.repeat(20) },
      { step: 'findArmadoBill', type: 'ArmadoAuthFailed', message: 'key refused' },
    ]);
    expect(memo.failureType).toBe('SheetsAuthFailed');
    expect(memo.failedSteps).toEqual(['updatePaymentSheet', 'findArmadoBill']);
    expect(memo.summary).toHaveLength(MEMO_SUMMARY_MAX);
    expect(memo.summary).not.toContain('\n');
    expect(memo.summary.endsWith('…')).toBe(true);
  });
});
