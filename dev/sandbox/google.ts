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

/** Developer metadata as Google keeps it: attached to a row, it moves with the row and dies with it. */
export interface DeveloperMetadataRecord {
  metadataId: number;
  metadataKey: string;
  metadataValue?: string;
  visibility: string;
}

interface Row {
  cells: Cell[];
  meta: DeveloperMetadataRecord[];
}

interface Tab {
  sheetId: number;
  title: string;
  rows: Row[];
  /** A basic filter a person set; like Google, it hides rows from people, not from the values API. */
  filter?: unknown;
}

interface Spreadsheet {
  tabs: Map<string, Tab>;
  shared: boolean;
  nextMetadataId: number;
}

interface DataFilter {
  a1Range?: string;
  developerMetadataLookup?: {
    metadataKey?: string;
    metadataValue?: string;
    metadataId?: number;
    locationType?: string;
    metadataLocation?: { sheetId?: number };
  };
}

/** One place a data filter matched: a whole row of a tab (metadata) or an A1 range. */
interface Match {
  tab: Tab;
  firstRow: number;
  lastRow?: number;
  firstCol: number;
  lastCol: number;
}

class RequestError extends Error {}

const LAST_COLUMN = 25; // Z: a row-located match spans the grid's columns
/** A new tab's grid, as Google makes it: 1,000 rows. Inserting rows grows it; values cannot be written past it. */
const NEW_TAB_ROWS = 1_000;
/** Google's limit for a spreadsheet: 10 million cells (here, per tab of LAST_COLUMN + 1 columns). */
const MAX_GRID_ROWS = Math.floor(10_000_000 / (LAST_COLUMN + 1));

/** The tab's grid: its rows, or the 1,000 of a new tab. */
const gridRows = (tab: Tab) => Math.max(NEW_TAB_ROWS, tab.rows.length);

function columnLetters(index: number): string {
  let n = index + 1;
  let out = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    out = String.fromCharCode(65 + r) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

function quoteTab(title: string): string {
  return `'${title.replace(/'/g, "''")}'`;
}

function trimmed(cells: Cell[] | undefined, from: number, to: number): string[] {
  const out = (cells ?? []).slice(from, to + 1).map((c) => (c === undefined || c === null ? '' : String(c)));
  while (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

function compareCells(a: Cell | undefined, b: Cell | undefined): number {
  const x = a === undefined || a === null ? '' : a;
  const y = b === undefined || b === null ? '' : b;
  // Google sorts empty cells last whatever the order; numbers before text.
  if (x === '' || y === '') return x === y ? 0 : x === '' ? 1 : -1;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (typeof x === 'number') return -1;
  if (typeof y === 'number') return 1;
  return String(x).localeCompare(String(y));
}

export class GoogleSandbox {
  readonly server: SandboxServer;
  readonly clientEmail = 'payment-sync@sandbox-project.iam.gserviceaccount.com';
  readonly tokensIssued: string[] = [];
  /** Write requests per minute per user, as Google's default quota; off unless set. */
  writeQuotaPerMinute?: number;
  quotaRejections = 0;
  /** Write requests accepted (values:batchUpdate, values:batchUpdateByDataFilter, :batchUpdate). */
  writeRequests = 0;
  /**
   * Runs when a write request has arrived and before it is applied: a test edits the sheet here as a
   * person would at the worst moment (between the writer's read and its write).
   */
  beforeWrite?: (kind: 'values' | 'valuesByDataFilter' | 'structure') => void | Promise<void>;
  private readonly privateKeyPem: string;
  private readonly publicKey: KeyObject;
  private readonly tokens = new Map<string, string>();
  private readonly spreadsheets = new Map<string, Spreadsheet>();
  private readonly writeTimes = new Map<string, number[]>();
  private nextSheetId = 1;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKey = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
    this.server = new SandboxServer(
      'Google',
      (req) => this.handle(req),
      () => ({
        spreadsheets: Object.fromEntries([...this.spreadsheets].map(([id, s]) => [id, Object.fromEntries([...s.tabs].map(([t, tab]) => [t, tab.rows.map((r) => r.cells)]))])),
        quotaRejections: this.quotaRejections,
      }),
    );
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
    this.spreadsheets.set(id, { tabs: new Map(tabs.map((t) => [t, { sheetId: this.nextSheetId++, title: t, rows: [] }])), shared: true, nextMetadataId: 1 });
  }

  addTab(id: string, title: string): void {
    const sheet = this.spreadsheets.get(id);
    if (sheet && !sheet.tabs.has(title)) sheet.tabs.set(title, { sheetId: this.nextSheetId++, title, rows: [] });
  }

  setShared(id: string, shared: boolean): void {
    const sheet = this.spreadsheets.get(id);
    if (sheet) sheet.shared = shared;
  }

  /** Every access token issued so far stops working (expired or revoked): the next call gets a 401. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** The tab's cells as strings, trailing empties trimmed, like a human would read them. */
  rows(id: string, tab = 'Paiements'): string[][] {
    return (this.tab(id, tab)?.rows ?? []).map((row) => row.cells.map((c) => (c === undefined || c === null ? '' : String(c))));
  }

  /** Row metadata of a tab as `row number (1-based) → key=value` entries, for assertions. */
  rowMetadata(id: string, tab = 'Paiements'): { row: number; key: string; value?: string }[] {
    return (this.tab(id, tab)?.rows ?? []).flatMap((row, index) => row.meta.map((m) => ({ row: index + 1, key: m.metadataKey, value: m.metadataValue })));
  }

  // What a person does in the Sheets UI; each one is also reachable over HTTP as a spreadsheets.batchUpdate request.

  /** Inserts `count` empty rows so that the first new row is row `at` (1-based). */
  insertRows(id: string, tab: string, at: number, count = 1): void {
    this.applyOnTab(id, tab, (t) => ({ insertDimension: { range: { sheetId: t.sheetId, dimension: 'ROWS', startIndex: at - 1, endIndex: at - 1 + count } } }));
  }

  /** Deletes `count` rows starting at row `at` (1-based), with their metadata. */
  deleteRows(id: string, tab: string, at: number, count = 1): void {
    this.applyOnTab(id, tab, (t) => ({ deleteDimension: { range: { sheetId: t.sheetId, dimension: 'ROWS', startIndex: at - 1, endIndex: at - 1 + count } } }));
  }

  /** Sorts the rows below the header by one column (0-based), as "Sort sheet" with a frozen header does. */
  sortRows(id: string, tab: string, column: number, order: 'ASCENDING' | 'DESCENDING' = 'ASCENDING'): void {
    this.applyOnTab(id, tab, (t) => ({
      sortRange: {
        range: { sheetId: t.sheetId, startRowIndex: 1, endRowIndex: t.rows.length, startColumnIndex: 0, endColumnIndex: LAST_COLUMN + 1 },
        sortSpecs: [{ dimensionIndex: column, sortOrder: order }],
      },
    }));
  }

  /** A person types a whole row of values at row `at` (1-based). */
  typeRow(id: string, tab: string, at: number, values: Cell[]): void {
    this.applyOnTab(id, tab, (t) => ({
      updateCells: {
        start: { sheetId: t.sheetId, rowIndex: at - 1, columnIndex: 0 },
        rows: [{ values: values.map((v) => ({ userEnteredValue: typeof v === 'number' ? { numberValue: v } : { stringValue: v } })) }],
        fields: 'userEnteredValue',
      },
    }));
  }

  setBasicFilter(id: string, tab: string): void {
    this.applyOnTab(id, tab, (t) => ({ setBasicFilter: { filter: { range: { sheetId: t.sheetId } } } }));
  }

  private tab(id: string, title: string): Tab | undefined {
    return this.spreadsheets.get(id)?.tabs.get(title);
  }

  private applyOnTab(id: string, title: string, request: (tab: Tab) => Record<string, unknown>): void {
    const sheet = this.spreadsheets.get(id);
    const tab = sheet?.tabs.get(title);
    if (!sheet || !tab) throw new Error(`no tab "${title}" in spreadsheet ${id}`);
    this.applyStructure(sheet, [request(tab)]);
  }

  private async handle(req: SandboxRequest): Promise<SandboxResponse> {
    if (req.method === 'POST' && req.path === '/token') return this.issueToken(req.body);
    const auth = String(req.headers.authorization ?? '');
    const user = this.tokens.get(auth.replace(/^Bearer /, ''));
    if (!user) return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');

    const route = /^\/v4\/spreadsheets\/([^/:]+)(?:\/values\/([^/]+)|\/values:(batchUpdate|batchGetByDataFilter|batchUpdateByDataFilter)|:(batchUpdate))?$/.exec(req.path);
    if (!route) return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
    const id = decodeURIComponent(route[1] as string);
    const sheet = this.spreadsheets.get(id);
    if (!sheet) return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
    if (!sheet.shared) return googleError(403, 'PERMISSION_DENIED', 'The caller does not have permission');

    const [, , range, valuesVerb, sheetVerb] = route;
    if (req.method === 'GET' && range) return this.readValues(sheet, decodeURIComponent(range));
    if (req.method === 'GET' && !valuesVerb && !sheetVerb) return this.describe(id, sheet);
    if (req.method === 'POST' && valuesVerb === 'batchGetByDataFilter') return this.batchGetByDataFilter(id, sheet, req.body);
    const write =
      req.method === 'POST'
        ? valuesVerb === 'batchUpdate'
          ? 'values'
          : valuesVerb === 'batchUpdateByDataFilter'
            ? 'valuesByDataFilter'
            : sheetVerb
              ? 'structure'
              : undefined
        : undefined;
    if (!write) return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
    if (this.overQuota(user)) {
      this.quotaRejections += 1;
      return googleError(
        429,
        'RESOURCE_EXHAUSTED',
        "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'sheets.googleapis.com'.",
      );
    }
    await this.beforeWrite?.(write);
    try {
      const out =
        write === 'values'
          ? this.batchUpdate(id, sheet, req.body)
          : write === 'valuesByDataFilter'
            ? this.batchUpdateByDataFilter(id, sheet, req.body)
            : this.spreadsheetBatchUpdate(id, sheet, req.body);
      if (out.status === 200) this.writeRequests += 1;
      return out;
    } catch (err) {
      if (err instanceof RequestError) return googleError(400, 'INVALID_ARGUMENT', err.message);
      throw err;
    }
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
    if (
      !String(claims.scope ?? '')
        .split(' ')
        .includes(SHEETS_SCOPE)
    )
      return refuse('Invalid JWT: scope');
    const token = `ya29.sandbox-${randomBytes(24).toString('hex')}`;
    this.tokens.set(token, claims.iss);
    this.tokensIssued.push(token);
    return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  }

  /** spreadsheets.get: the tabs' properties (what a client needs to address a tab by sheetId). */
  private describe(id: string, sheet: Spreadsheet): SandboxResponse {
    return {
      status: 200,
      body: {
        spreadsheetId: id,
        sheets: [...sheet.tabs.values()].map((t, index) => ({
          properties: { sheetId: t.sheetId, title: t.title, index, sheetType: 'GRID', gridProperties: { rowCount: gridRows(t), columnCount: LAST_COLUMN + 1 } },
        })),
      },
    };
  }

  private rangeOf(sheet: Spreadsheet, text: string): Match {
    const range = parseRange(text);
    const tab = range ? sheet.tabs.get(range.tab) : undefined;
    if (!range || !tab) throw new RequestError(`Unable to parse range: ${text}`);
    return { tab, firstRow: range.firstRow, lastRow: range.lastRow, firstCol: range.firstCol, lastCol: range.lastCol };
  }

  private valuesOf(match: Match): { range: string; majorDimension: 'ROWS'; values?: string[][] } {
    const { tab } = match;
    const lastRow = Math.min(match.lastRow ?? tab.rows.length - 1, tab.rows.length - 1);
    const out: string[][] = [];
    for (let r = match.firstRow; r <= lastRow; r++) out.push(trimmed(tab.rows[r]?.cells, match.firstCol, match.lastCol));
    while (out.length && (out[out.length - 1] as string[]).length === 0) out.pop();
    const range = `${quoteTab(tab.title)}!${columnLetters(match.firstCol)}${match.firstRow + 1}:${columnLetters(match.lastCol)}${(match.lastRow ?? Math.max(lastRow, match.firstRow)) + 1}`;
    return { range, majorDimension: 'ROWS', ...(out.length ? { values: out } : {}) };
  }

  private readValues(sheet: Spreadsheet, rangeText: string): SandboxResponse {
    try {
      const match = this.rangeOf(sheet, rangeText);
      return { status: 200, body: { ...this.valuesOf(match), range: rangeText } };
    } catch (err) {
      if (err instanceof RequestError) return googleError(400, 'INVALID_ARGUMENT', err.message);
      throw err;
    }
  }

  /** Where a data filter points now: every row carrying matching metadata, or an A1 range. */
  private matches(sheet: Spreadsheet, filter: DataFilter): Match[] {
    if (filter.a1Range !== undefined) return [this.rangeOf(sheet, filter.a1Range)];
    const lookup = filter.developerMetadataLookup;
    if (!lookup) throw new RequestError('A data filter needs a1Range or developerMetadataLookup');
    const out: Match[] = [];
    for (const tab of sheet.tabs.values()) {
      if (lookup.metadataLocation?.sheetId !== undefined && lookup.metadataLocation.sheetId !== tab.sheetId) continue;
      tab.rows.forEach((row, index) => {
        const hit = row.meta.some(
          (m) =>
            (lookup.metadataKey === undefined || m.metadataKey === lookup.metadataKey) &&
            (lookup.metadataValue === undefined || m.metadataValue === lookup.metadataValue) &&
            (lookup.metadataId === undefined || m.metadataId === lookup.metadataId),
        );
        if (hit) out.push({ tab, firstRow: index, lastRow: index, firstCol: 0, lastCol: LAST_COLUMN });
      });
    }
    return out;
  }

  private batchGetByDataFilter(id: string, sheet: Spreadsheet, body: unknown): SandboxResponse {
    const filters = ((body ?? {}) as { dataFilters?: DataFilter[] }).dataFilters;
    if (!Array.isArray(filters) || filters.length === 0) return googleError(400, 'INVALID_ARGUMENT', 'dataFilters must not be empty');
    try {
      const valueRanges = filters.flatMap((filter) => this.matches(sheet, filter).map((m) => ({ valueRange: this.valuesOf(m), dataFilters: [filter] })));
      return { status: 200, body: { spreadsheetId: id, valueRanges } };
    } catch (err) {
      if (err instanceof RequestError) return googleError(400, 'INVALID_ARGUMENT', err.message);
      throw err;
    }
  }

  private writeCells(tab: Tab, firstRow: number, firstCol: number, values: Cell[][]): number {
    let cells = 0;
    const grid = gridRows(tab);
    values.forEach((rowValues, i) => {
      const r = firstRow + i;
      if (r >= grid) throw new RequestError(`Range exceeds grid limits. Max rows: ${grid}`);
      while (tab.rows.length <= r) tab.rows.push({ cells: [], meta: [] });
      const row = tab.rows[r] as Row;
      rowValues.forEach((value, j) => {
        row.cells[firstCol + j] = value;
        cells += 1;
      });
    });
    return cells;
  }

  private batchUpdate(id: string, sheet: Spreadsheet, body: unknown): SandboxResponse {
    const b = (body ?? {}) as { valueInputOption?: string; data?: { range?: string; values?: Cell[][] }[] };
    if (b.valueInputOption !== 'RAW' && b.valueInputOption !== 'USER_ENTERED') {
      return googleError(400, 'INVALID_ARGUMENT', 'Invalid valueInputOption');
    }
    // All or nothing, like Google: validate every range before touching a cell.
    const writes = (b.data ?? []).map((item) => {
      if (!Array.isArray(item.values)) throw new RequestError(`Unable to parse range: ${item.range}`);
      return { match: this.rangeOf(sheet, String(item.range ?? '')), values: item.values };
    });
    let cells = 0;
    for (const { match, values } of writes) cells += this.writeCells(match.tab, match.firstRow, match.firstCol, values);
    return { status: 200, body: { spreadsheetId: id, totalUpdatedRows: writes.reduce((n, w) => n + w.values.length, 0), totalUpdatedCells: cells } };
  }

  /** Writes each value range wherever its filter points at this moment; a filter that matches nothing writes nothing. */
  private batchUpdateByDataFilter(id: string, sheet: Spreadsheet, body: unknown): SandboxResponse {
    const b = (body ?? {}) as { valueInputOption?: string; data?: { dataFilter?: DataFilter; values?: Cell[][] }[] };
    if (b.valueInputOption !== 'RAW' && b.valueInputOption !== 'USER_ENTERED') return googleError(400, 'INVALID_ARGUMENT', 'Invalid valueInputOption');
    const writes = (b.data ?? []).flatMap((item) => {
      if (!item.dataFilter || !Array.isArray(item.values)) throw new RequestError('Each data item needs a dataFilter and values');
      return this.matches(sheet, item.dataFilter).map((match) => ({ match, values: item.values as Cell[][], dataFilter: item.dataFilter }));
    });
    const responses = writes.map(({ match, values, dataFilter }) => {
      const updatedCells = this.writeCells(match.tab, match.firstRow, match.firstCol, values);
      const lastCol = match.firstCol + Math.max(0, ...values.map((v) => v.length)) - 1;
      return {
        updatedRange: `${quoteTab(match.tab.title)}!${columnLetters(match.firstCol)}${match.firstRow + 1}:${columnLetters(lastCol)}${match.firstRow + values.length}`,
        updatedRows: values.length,
        updatedCells,
        dataFilter,
      };
    });
    return {
      status: 200,
      body: {
        spreadsheetId: id,
        totalUpdatedRows: responses.reduce((n, r) => n + r.updatedRows, 0),
        totalUpdatedCells: responses.reduce((n, r) => n + r.updatedCells, 0),
        responses,
      },
    };
  }

  private spreadsheetBatchUpdate(id: string, sheet: Spreadsheet, body: unknown): SandboxResponse {
    const requests = ((body ?? {}) as { requests?: Record<string, unknown>[] }).requests;
    if (!Array.isArray(requests) || requests.length === 0) return googleError(400, 'INVALID_ARGUMENT', 'requests must not be empty');
    const replies = this.applyStructure(sheet, requests);
    return { status: 200, body: { spreadsheetId: id, replies } };
  }

  /** Applies requests in order to a copy and commits only if every one succeeds, as Google does. */
  private applyStructure(sheet: Spreadsheet, requests: Record<string, unknown>[]): unknown[] {
    const copy = new Map([...sheet.tabs].map(([title, tab]) => [title, { ...tab, rows: tab.rows.map((r) => ({ cells: [...r.cells], meta: [...r.meta] })) }]));
    let nextMetadataId = sheet.nextMetadataId;
    const tabById = (sheetId: unknown): Tab => {
      const tab = [...copy.values()].find((t) => t.sheetId === (sheetId ?? 0) || (sheetId === undefined && t === [...copy.values()][0]));
      if (!tab) throw new RequestError(`No grid with id: ${String(sheetId)}`);
      return tab;
    };
    const rowsRange = (range: { sheetId?: number; dimension?: string; startIndex?: number; endIndex?: number } | undefined) => {
      if (!range || range.dimension !== 'ROWS') throw new RequestError('Only ROWS dimension ranges are supported by this sandbox');
      const start = range.startIndex ?? 0;
      const end = range.endIndex ?? start;
      if (start < 0 || end < start) throw new RequestError('Invalid dimension range');
      return { tab: tabById(range.sheetId), start, end };
    };
    const replies = requests.map((request) => {
      const [kind, args] = Object.entries(request)[0] ?? [];
      const a = (args ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      switch (kind) {
        case 'insertDimension': {
          const { tab, start, end } = rowsRange(a.range);
          if (start > gridRows(tab)) throw new RequestError(`Invalid requests[].insertDimension: range beyond the grid`);
          if (gridRows(tab) + end - start > MAX_GRID_ROWS)
            throw new RequestError('This action would increase the number of cells in the workbook above the limit of 10000000 cells.');
          while (tab.rows.length < start) tab.rows.push({ cells: [], meta: [] });
          tab.rows.splice(start, 0, ...Array.from({ length: end - start }, () => ({ cells: [], meta: [] })));
          return {};
        }
        case 'deleteDimension': {
          const { tab, start, end } = rowsRange(a.range);
          tab.rows.splice(start, end - start); // their metadata goes with them
          return {};
        }
        case 'sortRange': {
          const tab = tabById(a.range?.sheetId);
          const start = a.range?.startRowIndex ?? 0;
          const end = Math.min(a.range?.endRowIndex ?? tab.rows.length, tab.rows.length);
          const specs = (a.sortSpecs ?? []) as { dimensionIndex: number; sortOrder?: string }[];
          const sorted = tab.rows.slice(start, end).sort((x, y) => {
            for (const spec of specs) {
              const c = compareCells(x.cells[spec.dimensionIndex], y.cells[spec.dimensionIndex]);
              const empty = (x.cells[spec.dimensionIndex] ?? '') === '' || (y.cells[spec.dimensionIndex] ?? '') === '';
              if (c !== 0) return spec.sortOrder === 'DESCENDING' && !empty ? -c : c;
            }
            return 0;
          });
          tab.rows.splice(start, sorted.length, ...sorted); // rows move whole, metadata included
          return {};
        }
        case 'updateCells': {
          const tab = tabById(a.start?.sheetId);
          const values = ((a.rows ?? []) as { values?: { userEnteredValue?: { stringValue?: string; numberValue?: number } }[] }[]).map((r) =>
            (r.values ?? []).map((v) => v.userEnteredValue?.numberValue ?? v.userEnteredValue?.stringValue ?? ''),
          );
          this.writeCells(tab, a.start?.rowIndex ?? 0, a.start?.columnIndex ?? 0, values);
          return {};
        }
        case 'createDeveloperMetadata': {
          const m = a.developerMetadata ?? {};
          if (typeof m.metadataKey !== 'string' || !m.metadataKey) throw new RequestError('Developer metadata must have a key');
          if (m.visibility !== 'DOCUMENT' && m.visibility !== 'PROJECT') throw new RequestError('Developer metadata must specify a visibility');
          const { tab, start, end } = rowsRange(m.location?.dimensionRange);
          if (end !== start + 1) throw new RequestError('This sandbox attaches metadata to one row at a time');
          while (tab.rows.length <= start) tab.rows.push({ cells: [], meta: [] });
          const record: DeveloperMetadataRecord = { metadataId: nextMetadataId++, metadataKey: m.metadataKey, metadataValue: m.metadataValue, visibility: m.visibility };
          (tab.rows[start] as Row).meta.push(record);
          return {
            createDeveloperMetadata: {
              developerMetadata: { ...record, location: { locationType: 'ROW', dimensionRange: { sheetId: tab.sheetId, dimension: 'ROWS', startIndex: start, endIndex: end } } },
            },
          };
        }
        case 'deleteDeveloperMetadata': {
          const lookup = (a.dataFilter as DataFilter | undefined)?.developerMetadataLookup;
          if (!lookup) throw new RequestError('deleteDeveloperMetadata needs a developerMetadataLookup');
          const deleted: DeveloperMetadataRecord[] = [];
          for (const tab of copy.values()) {
            for (const row of tab.rows) {
              row.meta = row.meta.filter((m) => {
                const hit =
                  (lookup.metadataKey === undefined || m.metadataKey === lookup.metadataKey) &&
                  (lookup.metadataValue === undefined || m.metadataValue === lookup.metadataValue) &&
                  (lookup.metadataId === undefined || m.metadataId === lookup.metadataId);
                if (hit) deleted.push(m);
                return !hit;
              });
            }
          }
          return { deleteDeveloperMetadata: { deletedDeveloperMetadata: deleted } };
        }
        case 'addSheet': {
          const title = String(a.properties?.title ?? '').trim();
          if (!title) throw new RequestError('addSheet needs properties.title');
          if (copy.has(title)) throw new RequestError(`A sheet with the name "${title}" already exists. Please enter another name.`);
          const tab: Tab = { sheetId: this.nextSheetId++, title, rows: [] };
          copy.set(title, tab);
          return { addSheet: { properties: { sheetId: tab.sheetId, title, index: copy.size - 1 } } };
        }
        case 'setBasicFilter':
          tabById(a.filter?.range?.sheetId).filter = a.filter;
          return {};
        case 'clearBasicFilter':
          tabById(a.sheetId).filter = undefined;
          return {};
        default:
          throw new RequestError(`Unsupported request: ${String(kind)}`);
      }
    });
    sheet.tabs = copy;
    sheet.nextMetadataId = nextMetadataId;
    return replies;
  }
}
