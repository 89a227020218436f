// A local Google: the OAuth JWT-bearer token endpoint (verifies the signature) and the Sheets v4 value endpoints.
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxServer, type SandboxRequest, type SandboxResponse } from './http-kit';

export const GOOGLE_TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';
const SHEETS_SCOPE = 'https://www.googleapis.com/auth/spreadsheets';
const RANGE = /^(?:'((?:[^']|'')+)'|([^!']+))!([A-Z]+)(\d+)?(?::([A-Z]+)(\d+)?)?$/;

type Cell = string | number;

function columnIndex(letters: string): number {
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

function googleError(code: number, status: string, message: string): SandboxResponse {
  return { status: code, body: { error: { code, message, status } } };
}

interface ParsedRange {
  tab: string;
  firstRow: number;
  lastRow?: number;
  firstCol: number;
  lastCol: number;
}

function parseRange(text: string): ParsedRange | undefined {
  const m = RANGE.exec(text);
  if (!m) return undefined;
  const tab = m[1] !== undefined ? m[1].replace(/''/g, "'") : (m[2] as string);
  const firstCol = columnIndex(m[3] as string);
  return {
    tab,
    firstRow: m[4] ? Number(m[4]) - 1 : 0,
    lastRow: m[6] ? Number(m[6]) - 1 : m[5] ? undefined : m[4] ? Number(m[4]) - 1 : undefined,
    firstCol,
    lastCol: m[5] ? columnIndex(m[5]) : firstCol,
  };
}

export class GoogleSandbox {
  readonly server: SandboxServer;
  readonly clientEmail = 'payment-sync@sandbox-project.iam.gserviceaccount.com';
  readonly tokensIssued: string[] = [];
  /** Write requests per minute per user, as Google's default quota; off unless set. */
  writeQuotaPerMinute?: number;
  quotaRejections = 0;
  private readonly privateKeyPem: string;
  private readonly publicKey: KeyObject;
  private readonly tokens = new Map<string, string>();
  private readonly spreadsheets = new Map<string, { tabs: Map<string, Cell[][]>; shared: boolean }>();
  private readonly writeTimes = new Map<string, number[]>();

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKey = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
    this.server = new SandboxServer('Google', (req) => this.handle(req), () => ({
      spreadsheets: Object.fromEntries([...this.spreadsheets].map(([id, s]) => [id, Object.fromEntries(s.tabs)])),
      quotaRejections: this.quotaRejections,
    }));
  }

  get baseUrl(): string {
    return this.server.baseUrl;
  }

  get tokenUrl(): string {
    return `${this.server.baseUrl}/token`;
  }

  /** A service-account key file as Google issues them (its token_uri is ignored by the auth library). */
  writeServiceAccountKey(dir: string): string {
    const file = join(dir, 'sandbox-service-account.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'service_account',
        project_id: 'sandbox-project',
        private_key_id: randomBytes(8).toString('hex'),
        private_key: this.privateKeyPem,
        client_email: this.clientEmail,
        token_uri: this.tokenUrl,
      }),
      { mode: 0o600 },
    );
    return file;
  }

  get privateKeyForSecretScan(): string {
    return this.privateKeyPem;
  }

  createSpreadsheet(id: string, tabs: string[] = ['Paiements']): void {
    this.spreadsheets.set(id, { tabs: new Map(tabs.map((t) => [t, []])), shared: true });
  }

  setShared(id: string, shared: boolean): void {
    const sheet = this.spreadsheets.get(id);
    if (sheet) sheet.shared = shared;
  }

  /** The tab's cells as strings, trailing empties trimmed, like a human would read them. */
  rows(id: string, tab = 'Paiements'): string[][] {
    return (this.spreadsheets.get(id)?.tabs.get(tab) ?? []).map((row) => row.map((c) => (c === undefined || c === null ? '' : String(c))));
  }

  private handle(req: SandboxRequest): SandboxResponse {
    if (req.method === 'POST' && req.path === '/token') return this.issueToken(req.body);
    const auth = String(req.headers.authorization ?? '');
    const user = this.tokens.get(auth.replace(/^Bearer /, ''));
    if (!user) return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');

    const values = /^\/v4\/spreadsheets\/([^/]+)\/values\/([^/]+)$/.exec(req.path);
    const batch = /^\/v4\/spreadsheets\/([^/]+)\/values:batchUpdate$/.exec(req.path);
    const id = decodeURIComponent((values ?? batch)?.[1] ?? '');
    const sheet = this.spreadsheets.get(id);
    if (!values && !batch) return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
    if (!sheet) return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
    if (!sheet.shared) return googleError(403, 'PERMISSION_DENIED', 'The caller does not have permission');

    if (req.method === 'GET' && values) return this.readValues(sheet.tabs, decodeURIComponent(values[2] as string));
    if (req.method === 'POST' && batch) {
      if (this.overQuota(user)) {
        this.quotaRejections += 1;
        return googleError(
          429,
          'RESOURCE_EXHAUSTED',
          "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'sheets.googleapis.com'.",
        );
      }
      return this.batchUpdate(id, sheet.tabs, req.body);
    }
    return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
  }

  private overQuota(user: string): boolean {
    if (!this.writeQuotaPerMinute) return false;
    const now = Date.now();
    const recent = (this.writeTimes.get(user) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= this.writeQuotaPerMinute) {
      this.writeTimes.set(user, recent);
      return true;
    }
    recent.push(now);
    this.writeTimes.set(user, recent);
    return false;
  }

  private issueToken(body: unknown): SandboxResponse {
    const form = (body ?? {}) as Record<string, string>;
    const refuse = (description: string) => ({ status: 400, body: { error: 'invalid_grant', error_description: description } });
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' } };
    }
    const parts = String(form.assertion ?? '').split('.');
    if (parts.length !== 3) return refuse('Invalid JWT: malformed');
    const [header, payload, signature] = parts as [string, string, string];
    const signed = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'));
    if (!signed) return refuse('Invalid JWT Signature.');
    let claims: { iss?: string; aud?: string; scope?: string; exp?: number; iat?: number };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return refuse('Invalid JWT: payload');
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== this.clientEmail) return refuse('Invalid JWT: unknown issuer');
    if (claims.aud !== GOOGLE_TOKEN_AUDIENCE && claims.aud !== this.tokenUrl) return refuse('Invalid JWT: audience');
    if (!claims.exp || claims.exp < now || (claims.iat ?? 0) > now + 300) return refuse('Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.');
    if (!String(claims.scope ?? '').split(' ').includes(SHEETS_SCOPE)) return refuse('Invalid JWT: scope');
    const token = `ya29.sandbox-${randomBytes(24).toString('hex')}`;
    this.tokens.set(token, claims.iss);
    this.tokensIssued.push(token);
    return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  }

  private readValues(tabs: Map<string, Cell[][]>, rangeText: string): SandboxResponse {
    const range = parseRange(rangeText);
    const grid = range ? tabs.get(range.tab) : undefined;
    if (!range || !grid) return googleError(400, 'INVALID_ARGUMENT', `Unable to parse range: ${rangeText}`);
    const lastRow = Math.min(range.lastRow ?? grid.length - 1, grid.length - 1);
    const out: string[][] = [];
    for (let r = range.firstRow; r <= lastRow; r++) {
      const cells = (grid[r] ?? []).slice(range.firstCol, range.lastCol + 1).map((c) => (c === undefined || c === null ? '' : String(c)));
      while (cells.length && cells[cells.length - 1] === '') cells.pop();
      out.push(cells);
    }
    while (out.length && (out[out.length - 1] as string[]).length === 0) out.pop();
    return { status: 200, body: { range: rangeText, majorDimension: 'ROWS', ...(out.length ? { values: out } : {}) } };
  }

  private batchUpdate(id: string, tabs: Map<string, Cell[][]>, body: unknown): SandboxResponse {
    const b = (body ?? {}) as { valueInputOption?: string; data?: { range?: string; values?: Cell[][] }[] };
    if (b.valueInputOption !== 'RAW' && b.valueInputOption !== 'USER_ENTERED') {
      return googleError(400, 'INVALID_ARGUMENT', 'Invalid valueInputOption');
    }
    const writes: { grid: Cell[][]; range: ParsedRange; values: Cell[][] }[] = [];
    for (const item of b.data ?? []) {
      const range = parseRange(String(item.range ?? ''));
      const grid = range ? tabs.get(range.tab) : undefined;
      if (!range || !grid || !Array.isArray(item.values)) return googleError(400, 'INVALID_ARGUMENT', `Unable to parse range: ${item.range}`);
      writes.push({ grid, range, values: item.values });
    }
    // All or nothing, like Google: validate every range before touching a cell.
    let cells = 0;
    for (const { grid, range, values } of writes) {
      values.forEach((rowValues, i) => {
        const r = range.firstRow + i;
        while (grid.length <= r) grid.push([]);
        const row = grid[r] as Cell[];
        rowValues.forEach((value, j) => {
          row[range.firstCol + j] = value;
          cells += 1;
        });
      });
    }
    return { status: 200, body: { spreadsheetId: id, totalUpdatedRows: writes.reduce((n, w) => n + w.values.length, 0), totalUpdatedCells: cells } };
  }
}
