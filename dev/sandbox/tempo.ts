// A local Tempo: FACTURE and FACTUREREGLEMENT (cases A–D), Basic auth, per-dossier invoices.
import { SandboxServer, type SandboxRequest, type SandboxResponse } from './http-kit';

export interface TempoInvoiceRecord {
  IdFacture: string;
  MontantTTC: string;
  RegleeTotale: 'OUI' | 'NON';
  DateReglementTotal: string;
  MontantReglementPartielTotal: string;
  [field: string]: unknown;
}

const TEMPO_DATE = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/;
const AMOUNT = /^\d+(\.\d{1,2})?$/;

function amountOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string' && AMOUNT.test(value)) return Number(value);
  return undefined;
}

export class TempoSandbox {
  readonly server: SandboxServer;
  private readonly invoices = new Map<string, TempoInvoiceRecord>();

  constructor(
    readonly credentials = { username: 'tempo-sandbox', password: 'tempo-sandbox-password' },
    readonly dossiers: string[] = ['DEMO'],
  ) {
    this.server = new SandboxServer(
      'Tempo',
      (req) => this.handle(req),
      () => ({ invoices: [...this.invoices.values()] }),
    );
  }

  /** Base URL as TEMPO_BASE_URL takes it. */
  get baseUrl(): string {
    return `${this.server.baseUrl}/API/Tempo`;
  }

  addInvoice(id: string, montantTTC: number, dossier = this.dossiers[0] as string): TempoInvoiceRecord {
    const record: TempoInvoiceRecord = {
      IdFacture: id,
      Dossier: dossier,
      MontantTTC: montantTTC.toFixed(2),
      RegleeTotale: 'NON',
      DateReglementTotal: '',
      MontantReglementPartielTotal: '0.00',
    };
    this.invoices.set(`${dossier}/${id}`, record);
    return record;
  }

  invoice(id: string, dossier = this.dossiers[0] as string): TempoInvoiceRecord | undefined {
    return this.invoices.get(`${dossier}/${id}`);
  }

  private authorized(req: SandboxRequest): boolean {
    const expected = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    return req.headers.authorization === expected;
  }

  private handle(req: SandboxRequest): SandboxResponse {
    if (!this.authorized(req)) return { status: 401, body: { message: 'Authentification requise' } };
    const dossier = req.query.get('Dossier') ?? '';
    if (!this.dossiers.includes(dossier)) return { status: 404, body: { message: `Dossier inconnu: ${dossier}` } };
    if (req.method === 'GET' && req.path === '/API/Tempo/FACTURE') {
      const invoice = this.invoices.get(`${dossier}/${req.query.get('ID') ?? ''}`);
      return invoice ? { status: 200, body: invoice } : { status: 404, body: { message: 'Facture introuvable' } };
    }
    if (req.method === 'POST' && req.path === '/API/Tempo/FACTUREREGLEMENT') return this.recordPayment(dossier, req.body);
    return { status: 404, body: { message: 'Ressource inconnue' } };
  }

  /** A: settle; B: add a partial; C: set the total of partials; D: set the total and settle. */
  private recordPayment(dossier: string, body: unknown): SandboxResponse {
    if (!body || typeof body !== 'object') return { status: 400, body: { message: 'Corps JSON attendu' } };
    const b = body as Record<string, unknown>;
    const invoice = this.invoices.get(`${dossier}/${String(b.IdFacture ?? '')}`);
    if (!invoice) return { status: 404, body: { message: 'Facture introuvable' } };
    const settle = b.RegleeTotale !== undefined;
    if (settle && (b.RegleeTotale !== 'OUI' || typeof b.DateReglementTotal !== 'string' || !TEMPO_DATE.test(b.DateReglementTotal))) {
      return { status: 400, body: { message: 'RegleeTotale doit valoir "OUI" avec DateReglementTotal au format AAAAMMJJ' } };
    }
    const partial = b.MontantReglementPartiel === undefined ? undefined : amountOf(b.MontantReglementPartiel);
    const total = b.MontantReglementPartielTotal === undefined ? undefined : amountOf(b.MontantReglementPartielTotal);
    if ((b.MontantReglementPartiel !== undefined && partial === undefined) || (b.MontantReglementPartielTotal !== undefined && total === undefined)) {
      return { status: 400, body: { message: 'Montant invalide: nombre avec un point décimal, ex. 795.60' } };
    }
    if (!settle && partial === undefined && total === undefined) return { status: 400, body: { message: 'Aucun règlement à enregistrer' } };
    if (partial !== undefined) invoice.MontantReglementPartielTotal = (Number(invoice.MontantReglementPartielTotal) + partial).toFixed(2);
    if (total !== undefined) invoice.MontantReglementPartielTotal = total.toFixed(2);
    if (settle) {
      invoice.RegleeTotale = 'OUI';
      invoice.DateReglementTotal = b.DateReglementTotal as string;
    }
    return { status: 200, body: invoice };
  }
}
