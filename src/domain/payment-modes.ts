// Payment modes accepted from Tempo and the Armado paymentType each maps to (DESIGN §4).
import { ErrorType, permanentFailure } from './errors';

export const BUILT_IN_PAYMENT_MODES: Readonly<Record<string, number>> = Object.freeze({
  cheque: 1,
  chèque: 1,
  virement: 2,
  cb: 3,
  carte: 3,
  especes: 4,
  espèces: 4,
  liquide: 4,
  cash: 4,
  prelevement: 5,
  prélèvement: 5,
  sepa: 5,
  paypal: 6,
  stripe: 7,
  autre: 8,
  other: 8,
});

/** Case, accents and surrounding spaces do not distinguish modes: "  Chèque " is "cheque". */
export function normalizePaymentMode(mode: string): string {
  return mode
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .trim()
    .toLowerCase();
}

export type PaymentModeTable = ReadonlyMap<string, number>;

/** Built-in modes plus configured ones (a configured mode may re-map a built-in one). */
export function buildPaymentModeTable(extra: Readonly<Record<string, number>> = {}): PaymentModeTable {
  const table = new Map<string, number>();
  for (const [mode, type] of Object.entries({ ...BUILT_IN_PAYMENT_MODES, ...extra })) {
    table.set(normalizePaymentMode(mode), type);
  }
  return table;
}

export function acceptedPaymentModes(table: PaymentModeTable): string[] {
  return [...table.keys()].sort();
}

export interface ResolvedPaymentMode {
  /** Normalized spelling, as stored in the ledger and search attributes. */
  mode: string;
  paymentType: number;
}

export function resolvePaymentMode(mode: string, table: PaymentModeTable): ResolvedPaymentMode {
  const normalized = normalizePaymentMode(mode);
  const paymentType = table.get(normalized);
  if (paymentType === undefined) {
    throw permanentFailure(ErrorType.UnknownPaymentMode, `paymentMode "${mode}" is not a known payment mode; accepted modes: ${acceptedPaymentModes(table).join(', ')}`);
  }
  return { mode: normalized, paymentType };
}
