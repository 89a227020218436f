// Armado's bill API: search by reference and payment update, with every answer mapped to a typed failure here.
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { ErrorType, permanentFailure, transientFailure } from '../domain/errors';
import type { ArmadoBill } from '../domain/shapes';
import { bodyMessage, describeTarget, send, sharedStatusFailure, type HttpResponse } from './http';

const BillSchema = z.looseObject({
  id: z.union([z.number(), z.string().min(1)]).transform(String),
  reference: z.union([z.string(), z.number()]).transform(String).nullish(),
  paymentType: z.number().nullish().catch(null),
  paymentDate: z.string().nullish().catch(null),
});

function toBill(raw: z.output<typeof BillSchema>): ArmadoBill {
  return { id: raw.id, reference: raw.reference ?? '', paymentType: raw.paymentType ?? null, paymentDate: raw.paymentDate ?? null };
}

export interface ArmadoClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export class ArmadoClient {
  constructor(private readonly options: ArmadoClientOptions) {}

  /** Every bill the search returns, near matches included: choosing the exact one is the caller's rule. */
  async searchBills(reference: string): Promise<ArmadoBill[]> {
    const url = `${this.options.baseUrl}/v1/bill?${new URLSearchParams({ reference })}`;
    const res = await this.call('GET', url);
    if (res.status === 404) return [];
    if (res.status !== 200) throw this.failure('GET', url, res, reference);
    const bills = z.array(BillSchema).safeParse(res.body);
    if (!bills.success) {
      throw transientFailure(ErrorType.UnexpectedApiResponse, `Armado ${describeTarget('GET', url)} did not answer a list of bills`);
    }
    return bills.data.map(toBill);
  }

  async updateBillPayment(billId: string, payment: { paymentType: number; paymentDate: string }, reference: string): Promise<ArmadoBill> {
    const url = `${this.options.baseUrl}/v1/bill/${encodeURIComponent(billId)}`;
    const res = await this.call('PUT', url, payment);
    if (res.status !== 200) throw this.failure('PUT', url, res, reference);
    const bill = BillSchema.safeParse(res.body);
    // A 200 means Armado took the payment even if its echo is odd; report what we sent.
    return bill.success ? toBill(bill.data) : { id: billId, reference, ...payment };
  }

  private call(method: 'GET' | 'PUT', url: string, json?: unknown): Promise<HttpResponse> {
    return send('Armado', {
      method,
      url,
      json,
      headers: { ApiKey: this.options.apiKey },
      timeoutMs: this.options.timeoutMs,
      dispatcher: this.options.dispatcher,
    });
  }

  private failure(method: string, url: string, res: HttpResponse, reference: string): Error {
    const shared = sharedStatusFailure('Armado', method, url, res);
    if (shared) return shared;
    const target = describeTarget(method, url);
    switch (res.status) {
      case 401:
      case 403:
        return permanentFailure(ErrorType.ArmadoAuthFailed, `Armado refused the API key (HTTP ${res.status} on ${target}); check ARMADO_API_KEY`);
      case 404:
        return transientFailure(ErrorType.ArmadoBillNotFound, `Armado has no bill for invoice ${reference} (${target} answered 404)`);
      case 422:
        return permanentFailure(ErrorType.ArmadoValidationFailed, `Armado rejected the payment of invoice ${reference} (422): ${bodyMessage(res.body) ?? 'no message'}`, {
          armadoMessage: bodyMessage(res.body),
        });
      default:
        return permanentFailure(ErrorType.UnexpectedApiResponse, `Armado ${target} answered HTTP ${res.status} for invoice ${reference}`);
    }
  }
}
