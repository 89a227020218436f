// Shapes that cross the workflow boundary: step plan, results, status, ledger rows.
import type { PaymentSyncInput } from './payment-input';

export const STEPS = ['confirmTempoUpdate', 'checkInvoiceFullyPaid', 'updatePaymentSheet', 'findArmadoBill', 'updateArmadoBillPayment'] as const;
export type StepName = (typeof STEPS)[number];

export type SyncOutcome = 'running' | 'synced' | 'partially-paid' | 'failed';

/** What `confirmTempoUpdate` settles once per run, so replays and resets never depend on worker config. */
export interface ConfirmedPayment {
  invoiceNumber: string;
  dossier: string;
  paymentMode: string;
  paymentType: number;
  /** Armado wall-clock date, `YYYY-MM-DDTHH:mm:ss.000000`. */
  armadoPaymentDate: string;
  /** Ledger reading of the payment date (it gives the instant back exactly, see payment-order). */
  ledgerPaymentDate: string;
  /** The payment's instant in seconds: its place in the one order of the invoice's payments. Absent in older runs. */
  paymentInstant?: number;
  amount?: number;
  /** How long to keep looking for a bill that Armado does not have yet. */
  billSearch: { intervalMs: number; giveUpAfterMs: number };
  /** The input as validated (zod) by the step: runs since `local-steps` check their input there, not in the workflow. */
  input?: PaymentSyncInput;
  /** Step timeouts derived from the worker's HTTP timeouts; absent in runs confirmed before they existed. */
  timeouts?: { tempoCallMs: number; armadoCallMs: number; ledgerWriteMs: number; ledgerRequeueMs: number };
}

export interface InvoiceStatus {
  fullyPaid: boolean;
  /** Tempo's `DateReglementTotal` (AAAAMMJJ) when present. */
  settledOn?: string;
  totalAmount?: number;
  paidAmount?: number;
}

export type LedgerStatus = 'Payée' | 'Partiellement payée';
export const LEDGER_HEADER = ['Facture', 'Statut', 'Mode', 'Date paiement', 'Montant', 'Bill Armado', 'Mis à jour', 'Workflow'] as const;

export interface LedgerRow {
  invoiceNumber: string;
  status: LedgerStatus;
  paymentMode: string;
  paymentDate: string;
  amount?: number;
  armadoBillId?: string;
  workflowId: string;
}

export interface LedgerWriteResult {
  /** `kept-later-payment`: the row shows a later payment of the invoice and was left as it is. */
  status: 'updated' | 'appended' | 'kept-later-payment';
  row: number;
}

export interface ArmadoBill {
  id: string;
  reference: string;
  paymentType?: number | null;
  paymentDate?: string | null;
}

export type ArmadoOutcome =
  | { status: 'updated' | 'already-up-to-date'; billId: string; paymentType: number; paymentDate: string }
  /** A later payment of the invoice is the one Armado keeps: its values when this run read the bill, else just the bill. */
  | { status: 'kept-later-payment'; billId: string; paymentType?: number; paymentDate?: string }
  | { status: 'skipped-partial' };

export interface PaymentSyncResult {
  invoiceNumber: string;
  fullyPaid: boolean;
  outcome: 'synced' | 'partially-paid';
  sheet: LedgerWriteResult;
  armado: ArmadoOutcome;
}

export type StepState =
  | { state: 'pending' }
  | { state: 'running'; detail?: string }
  | { state: 'waiting'; detail: string }
  | { state: 'done'; detail?: string }
  | { state: 'skipped'; detail: string }
  | { state: 'failed'; errorType: string; message: string };

export interface PaymentSyncStatus {
  invoiceNumber: string;
  outcome: SyncOutcome;
  currentStep: StepName | 'done';
  steps: Record<StepName, StepState>;
}
