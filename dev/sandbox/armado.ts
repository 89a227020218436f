// A local Armado: bill search that also returns near matches, payment PUT with 422 validation, ApiKey auth.
import { SandboxServer, type SandboxRequest, type SandboxResponse } from './http-kit';

export interface ArmadoBillRecord {
  id: number;
  reference: string;
  amount: number;
  paymentType: number | null;
  paymentDate: string | null;
  updatedAt: string | null;
}

const ARMADO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/;

export class ArmadoSandbox {
  readonly server: SandboxServer;
  readonly puts: { billId: number; paymentType: number; paymentDate: string }[] = [];
  /** Runs when a PUT arrives, before it is applied: a test deletes or re-creates the bill at that moment. */
  beforePut?: (billId: number) => void;
  private readonly bills = new Map<number, ArmadoBillRecord>();
  private nextId = 1000;

  constructor(
    public apiKey = 'armado-sandbox-key',
    readonly maxPaymentType = 8,
  ) {
    this.server = new SandboxServer(
      'Armado',
      (req) => this.handle(req),
      () => ({ bills: [...this.bills.values()], puts: this.puts }),
    );
  }

  get baseUrl(): string {
    return this.server.baseUrl;
  }

  addBill(reference: string, amount = 100): ArmadoBillRecord {
    const bill: ArmadoBillRecord = { id: this.nextId++, reference, amount, paymentType: null, paymentDate: null, updatedAt: null };
    this.bills.set(bill.id, bill);
    return bill;
  }

  /** Deleted in Armado's UI: searches no longer find it and a PUT on its id answers 404. */
  removeBill(id: number): void {
    this.bills.delete(id);
  }

  bill(id: number): ArmadoBillRecord | undefined {
    return this.bills.get(id);
  }

  billsWithReference(reference: string): ArmadoBillRecord[] {
    return [...this.bills.values()].filter((b) => b.reference === reference);
  }

  putsFor(reference: string): number {
    const ids = new Set(this.billsWithReference(reference).map((b) => b.id));
    return this.puts.filter((p) => ids.has(p.billId)).length;
  }

  private handle(req: SandboxRequest): SandboxResponse {
    if (req.headers.apikey !== this.apiKey) return { status: 401, body: { message: 'Invalid API key' } };
    if (req.method === 'GET' && req.path === '/v1/bill') {
      const reference = req.query.get('reference') ?? '';
      // Like the real search, a prefix matches too: "2066" finds "20664" and "206640".
      return { status: 200, body: [...this.bills.values()].filter((b) => reference && b.reference.startsWith(reference)) };
    }
    const put = /^\/v1\/bill\/(\d+)$/.exec(req.path);
    if (req.method === 'PUT' && put) {
      this.beforePut?.(Number(put[1]));
      const bill = this.bills.get(Number(put[1]));
      if (!bill) return { status: 404, body: { message: 'Bill not found' } };
      const body = (req.body ?? {}) as { paymentType?: unknown; paymentDate?: unknown };
      if (!Number.isInteger(body.paymentType) || (body.paymentType as number) < 1 || (body.paymentType as number) > this.maxPaymentType) {
        return { status: 422, body: { message: `paymentType must be an integer from 1 to ${this.maxPaymentType}` } };
      }
      if (typeof body.paymentDate !== 'string' || !ARMADO_DATE.test(body.paymentDate)) {
        return { status: 422, body: { message: 'paymentDate must look like 2024-01-15T10:30:00.000000' } };
      }
      bill.paymentType = body.paymentType as number;
      bill.paymentDate = body.paymentDate;
      bill.updatedAt = new Date().toISOString();
      this.puts.push({ billId: bill.id, paymentType: bill.paymentType, paymentDate: bill.paymentDate });
      return { status: 200, body: bill };
    }
    return { status: 404, body: { message: 'Not found' } };
  }
}
