// Tempo's invoice API: reading FACTURE, with every answer mapped to a typed failure here.
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { ErrorType, permanentFailure } from '../domain/errors';
import type { InvoiceStatus } from '../domain/shapes';
import { send, sharedStatusFailure, type HttpResponse } from './http';

const amount = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^-?\d+(\.\d+)?$/),
  ])
  .transform((v) => Number(v))
  .nullish()
  .catch(undefined);

/** Only what the service relies on; unknown fields are kept, not rejected (DESIGN §3). */
export const TempoInvoiceSchema = z.looseObject({
  RegleeTotale: z.string().nullish(),
  DateReglementTotal: z.string().nullish(),
  MontantTTC: amount,
  MontantReglementPartielTotal: amount,
});
export type TempoInvoice = z.output<typeof TempoInvoiceSchema>;

export interface TempoClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export class TempoClient {
  private readonly authorization: string;

  constructor(private readonly options: TempoClientOptions) {
    this.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  }

  async getInvoice(dossier: string, invoiceNumber: string): Promise<InvoiceStatus> {
    const url = `${this.options.baseUrl}/FACTURE?${new URLSearchParams({ Dossier: dossier, ID: invoiceNumber })}`;
    const res = await send('Tempo', {
      method: 'GET',
      url,
      headers: { authorization: this.authorization },
      timeoutMs: this.options.timeoutMs,
      dispatcher: this.options.dispatcher,
    });
    if (res.status !== 200) throw this.failure(res, url, invoiceNumber);
    const parsed = TempoInvoiceSchema.safeParse(res.body);
    if (!parsed.success) {
      throw permanentFailure(ErrorType.UnexpectedApiResponse, `Tempo FACTURE for invoice ${invoiceNumber} is not a JSON object`);
    }
    const invoice = parsed.data;
    return {
      fullyPaid: (invoice.RegleeTotale ?? '').trim().toUpperCase() === 'OUI',
      settledOn: invoice.DateReglementTotal || undefined,
      totalAmount: invoice.MontantTTC ?? undefined,
      paidAmount: invoice.MontantReglementPartielTotal ?? undefined,
    };
  }

  private failure(res: HttpResponse, url: string, invoiceNumber: string): Error {
    const shared = sharedStatusFailure('Tempo', 'GET', url, res);
    if (shared) return shared;
    switch (res.status) {
      case 401:
      case 403:
        return permanentFailure(ErrorType.TempoAuthFailed, `Tempo refused the credentials (HTTP ${res.status}); check TEMPO_USERNAME and TEMPO_PASSWORD`);
      case 404:
        return permanentFailure(ErrorType.TempoInvoiceNotFound, `Tempo has no invoice ${invoiceNumber} in this dossier (FACTURE answered 404)`);
      default:
        return permanentFailure(ErrorType.UnexpectedApiResponse, `Tempo FACTURE for invoice ${invoiceNumber} answered HTTP ${res.status}`);
    }
  }
}
