// `tempo-armado-sync reapply-ledger --invoice N`: puts the ledger's payment back on the invoice's Armado bill, the
// command an `armado-disagrees` finding gives. The reconciliation only reports (a person may have changed the bill
// on purpose); this is the operator's deliberate answer, one read of each store and at most one PUT.
import { a1 } from '../apis/sheets';
import { createClients, type ActivityClients } from '../activities';
import type { Config } from '../config';
import { ledgerDateAsArmado, sameArmadoDate } from '../domain/dates';
import { buildPaymentModeTable, normalizePaymentMode } from '../domain/payment-modes';
import { LEDGER_HEADER } from '../domain/shapes';

export interface ReapplyOutcome {
  invoiceNumber: string;
  billId: string;
  status: 'updated' | 'already-up-to-date' | 'would-update';
  before: { paymentType: number | null; paymentDate: string | null };
  ledger: { paymentMode: string; paymentDate: string; paymentType: number; armadoDate: string };
}

export class ReapplyRefused extends Error {}

export async function reapplyLedgerPayment(
  config: Config,
  invoiceNumber: string,
  options: { dryRun: boolean },
  clients: Pick<ActivityClients, 'armado' | 'sheets'> = createClients(config),
): Promise<ReapplyOutcome> {
  const values = await clients.sheets.readValues(config.sheets.spreadsheetId, a1(config.sheets.sheetName, `A:${String.fromCharCode(64 + LEDGER_HEADER.length)}`));
  const row = values.slice(1).find((cells) => (cells[0] ?? '').trim() === invoiceNumber);
  if (!row) throw new ReapplyRefused(`the ledger has no row for invoice ${invoiceNumber}`);
  const [, status = '', paymentMode = '', paymentDate = ''] = row.map((c) => c.trim());
  if (status !== 'Payée') throw new ReapplyRefused(`invoice ${invoiceNumber} is "${status}" in the ledger, not Payée: Armado carries only settled payments`);
  const paymentType = buildPaymentModeTable(config.paymentModes).get(normalizePaymentMode(paymentMode));
  if (paymentType === undefined)
    throw new ReapplyRefused(`the ledger's mode "${paymentMode}" for invoice ${invoiceNumber} is not a known payment mode (see: tempo-armado-sync modes)`);
  const armadoDate = ledgerDateAsArmado(paymentDate);
  if (!armadoDate) throw new ReapplyRefused(`the ledger's date "${paymentDate}" for invoice ${invoiceNumber} does not read as YYYY-MM-DD[ HH:mm[:ss]]`);

  const bills = (await clients.armado.searchBills(invoiceNumber)).filter((b) => b.reference.trim() === invoiceNumber);
  if (bills.length !== 1) throw new ReapplyRefused(`Armado has ${bills.length} bills with reference ${invoiceNumber}; there must be exactly one`);
  const bill = bills[0] as (typeof bills)[number];
  const before = { paymentType: bill.paymentType ?? null, paymentDate: bill.paymentDate ?? null };
  const ledger = { paymentMode, paymentDate, paymentType, armadoDate };
  if (bill.paymentType === paymentType && sameArmadoDate(bill.paymentDate, armadoDate)) return { invoiceNumber, billId: bill.id, status: 'already-up-to-date', before, ledger };
  if (options.dryRun) return { invoiceNumber, billId: bill.id, status: 'would-update', before, ledger };
  await clients.armado.updateBillPayment(bill.id, { paymentType, paymentDate: armadoDate }, invoiceNumber);
  return { invoiceNumber, billId: bill.id, status: 'updated', before, ledger };
}
