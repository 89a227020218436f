// Armado-side steps: find the one bill whose reference is the invoice number, then record its payment.
import { ErrorType, permanentFailure, transientFailure } from '../domain/errors';
import { compareArmadoDates, sameArmadoDate } from '../domain/dates';
import type { ArmadoBill, ArmadoOutcome } from '../domain/shapes';
import type { ArmadoClient } from '../apis/armado';
import { metrics } from '../metrics';
import { activityLog } from './log';

export interface UpdateArmadoBillPaymentArgs {
  invoiceNumber: string;
  bill: ArmadoBill;
  paymentType: number;
  paymentDate: string;
}

export function createArmadoActivities(deps: { armado: ArmadoClient }) {
  return {
    async findArmadoBill(args: { invoiceNumber: string }): Promise<ArmadoBill> {
      const bills = await deps.armado.searchBills(args.invoiceNumber);
      // Armado's search also returns near matches ("206640" for "20664"): only an exact reference counts.
      const exact = bills.filter((bill) => bill.reference.trim() === args.invoiceNumber);
      if (exact.length === 0) {
        metrics().billNotFound();
        activityLog('warn', 'no Armado bill with this reference yet', { invoiceNumber: args.invoiceNumber, nearMatches: bills.length });
        throw transientFailure(
          ErrorType.ArmadoBillNotFound,
          `Armado has no bill with reference ${args.invoiceNumber}` +
            (bills.length
              ? ` (only near matches: ${bills
                  .slice(0, 5)
                  .map((b) => b.reference)
                  .join(', ')})`
              : ''),
        );
      }
      if (exact.length > 1) {
        metrics().billAmbiguous();
        throw permanentFailure(
          ErrorType.ArmadoBillAmbiguous,
          `Armado has ${exact.length} bills with reference ${args.invoiceNumber} (ids ${exact.map((b) => b.id).join(', ')}); fix them in Armado, then reset the run`,
          { billIds: exact.map((b) => b.id) },
        );
      }
      const bill = exact[0] as ArmadoBill;
      activityLog('info', 'Armado bill found', { invoiceNumber: args.invoiceNumber, billId: bill.id });
      return bill;
    },

    /**
     * Sends the PUT only when the bill does not already carry this payment or a later one (latest payment
     * wins; on a tie what is there stays), so re-runs and late runs of older payments write nothing. The bill
     * is read again first: the snapshot from findArmadoBill predates any PUT of a crashed attempt or a reset run.
     */
    async updateArmadoBillPayment(args: UpdateArmadoBillPaymentArgs): Promise<ArmadoOutcome> {
      const { paymentType, paymentDate } = args;
      const bill = (await deps.armado.searchBills(args.invoiceNumber)).find((b) => b.id === args.bill.id);
      if (!bill) {
        throw transientFailure(ErrorType.ArmadoBillNotFound, `Armado bill ${args.bill.id} (reference ${args.invoiceNumber}) no longer exists`);
      }
      if (bill.paymentType === paymentType && sameArmadoDate(bill.paymentDate, paymentDate)) {
        activityLog('info', 'Armado bill already carries this payment: nothing sent', { invoiceNumber: args.invoiceNumber, billId: bill.id });
        return { status: 'already-up-to-date', billId: bill.id, paymentType, paymentDate };
      }
      const order = compareArmadoDates(bill.paymentDate, paymentDate);
      if (order !== undefined && order >= 0) {
        activityLog('info', 'Armado bill carries a later payment: kept, nothing sent', {
          invoiceNumber: args.invoiceNumber,
          billId: bill.id,
          billPaymentDate: bill.paymentDate,
          thisPaymentDate: paymentDate,
        });
        return { status: 'kept-later-payment', billId: bill.id, paymentType: bill.paymentType ?? paymentType, paymentDate: bill.paymentDate as string };
      }
      await deps.armado.updateBillPayment(bill.id, { paymentType, paymentDate }, args.invoiceNumber);
      activityLog('info', 'Armado bill marked paid', { invoiceNumber: args.invoiceNumber, billId: bill.id, paymentType, paymentDate });
      return { status: 'updated', billId: bill.id, paymentType, paymentDate };
    },
  };
}
