// Google Sheets v4 over undici, with service-account tokens from google-auth-library; failures typed here.
import { readFileSync } from 'node:fs';
import { JWT } from 'google-auth-library';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { ErrorType, permanentFailure, transientFailure } from '../domain/errors';
import { bodyMessage, send, sharedStatusFailure, type HttpResponse } from './http';
import { metrics } from '../metrics';

export const GOOGLE_DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const SCOPE = 'https://www.googleapis.com/auth/spreadsheets';

const ServiceAccountKeySchema = z.object({
  type: z.literal('service_account'),
  client_email: z.string().min(1),
  private_key: z.string().includes('PRIVATE KEY'),
});

export interface SheetsClientOptions {
  baseUrl: string;
  tokenUrl: string;
  credentialsFile: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export interface ValueRange {
  range: string;
  values: (string | number)[][];
}

/** `'Tab name'!A:A`, quoting the tab as Sheets requires. */
export function a1(sheetName: string, cells: string): string {
  return `'${sheetName.replace(/'/g, "''")}'!${cells}`;
}

export function loadServiceAccount(file: string): z.output<typeof ServiceAccountKeySchema> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw permanentFailure(ErrorType.SheetsAuthFailed, `the service-account key file ${file} cannot be read as JSON`);
  }
  const key = ServiceAccountKeySchema.safeParse(raw);
  if (!key.success) {
    throw permanentFailure(ErrorType.SheetsAuthFailed, `the file ${file} is not a service-account key (type, client_email, private_key)`);
  }
  return key.data;
}

/** A Sheets data filter: a row found by the developer metadata attached to it, or an A1 range. */
export type DataFilter =
  { developerMetadataLookup: { metadataKey: string; metadataValue?: string; locationType?: 'ROW'; metadataLocation?: { sheetId: number } } } | { a1Range: string };

export interface MatchedValueRange {
  range: string;
  values: string[][];
  dataFilters: DataFilter[];
}

const MatchedValueRangesSchema = z.object({
  valueRanges: z
    .array(
      z.object({
        valueRange: z.object({ range: z.string(), values: z.array(z.array(z.unknown())).optional() }),
        dataFilters: z.array(z.unknown()).default([]),
      }),
    )
    .default([]),
});

const UpdatedByDataFilterSchema = z.object({
  responses: z.array(z.object({ updatedRange: z.string().optional(), dataFilter: z.unknown() })).default([]),
});

const SpreadsheetSchema = z.object({
  sheets: z.array(z.object({ properties: z.object({ sheetId: z.number().int(), title: z.string() }) })).default([]),
});

const cellText = (cell: unknown) => (cell === null || cell === undefined ? '' : String(cell));

export class SheetsClient {
  private jwt?: JWT;
  private readonly sheetIds = new Map<string, number>();

  constructor(private readonly options: SheetsClientOptions) {}

  async readValues(spreadsheetId: string, range: string): Promise<string[][]> {
    const url = `${this.spreadsheetUrl(spreadsheetId)}/values/${encodeURIComponent(range)}?majorDimension=ROWS`;
    const res = await this.call('GET', url);
    if (res.status !== 200) throw this.failure('GET', url, res);
    const body = z.object({ values: z.array(z.array(z.unknown())).optional() }).safeParse(res.body);
    if (!body.success) throw transientFailure(ErrorType.UnexpectedApiResponse, 'Google Sheets answered an unreadable value range');
    return (body.data.values ?? []).map((row) => row.map(cellText));
  }

  /** One write request for any number of ranges: the unit Google's write quota counts. */
  async batchUpdate(spreadsheetId: string, data: ValueRange[]): Promise<void> {
    const url = `${this.spreadsheetUrl(spreadsheetId)}/values:batchUpdate`;
    const res = await this.call('POST', url, { valueInputOption: 'RAW', data });
    if (res.status !== 200) throw this.failure('POST', url, res);
  }

  /** The numeric id of a tab, which structural requests address it by (stable for the tab's life). */
  async sheetId(spreadsheetId: string, title: string): Promise<number> {
    const cacheKey = `${spreadsheetId}\n${title}`;
    const cached = this.sheetIds.get(cacheKey);
    if (cached !== undefined) return cached;
    const url = `${this.spreadsheetUrl(spreadsheetId)}?fields=sheets.properties(sheetId,title)`;
    const res = await this.call('GET', url);
    if (res.status !== 200) throw this.failure('GET', url, res);
    const body = SpreadsheetSchema.safeParse(res.body);
    if (!body.success) throw transientFailure(ErrorType.UnexpectedApiResponse, 'Google Sheets answered an unreadable spreadsheet description');
    const tab = body.data.sheets.find((s) => s.properties.title === title);
    if (!tab) {
      throw permanentFailure(ErrorType.SheetsRequestRejected, `the spreadsheet has no tab named "${title}"; create it or fix GOOGLE_SHEETS_SHEET_NAME`);
    }
    this.sheetIds.set(cacheKey, tab.properties.sheetId);
    return tab.properties.sheetId;
  }

  /** Reads every range the filters point at now, in one request (reads do not count against the write quota). */
  async batchGetByDataFilter(spreadsheetId: string, dataFilters: DataFilter[]): Promise<MatchedValueRange[]> {
    const url = `${this.spreadsheetUrl(spreadsheetId)}/values:batchGetByDataFilter`;
    const res = await this.call('POST', url, { dataFilters, majorDimension: 'ROWS' });
    if (res.status !== 200) throw this.failure('POST', url, res);
    const body = MatchedValueRangesSchema.safeParse(res.body);
    if (!body.success) throw transientFailure(ErrorType.UnexpectedApiResponse, 'Google Sheets answered an unreadable data-filter read');
    return body.data.valueRanges.map((m) => ({
      range: m.valueRange.range,
      values: (m.valueRange.values ?? []).map((row) => row.map(cellText)),
      dataFilters: m.dataFilters as DataFilter[],
    }));
  }

  /**
   * Writes each row wherever its filter points at the moment Google applies the request, so a row that a
   * person moved since it was read is still the one written. Returns the filters that matched a range.
   */
  async batchUpdateByDataFilter(spreadsheetId: string, data: { dataFilter: DataFilter; values: (string | number)[][] }[]): Promise<DataFilter[]> {
    const url = `${this.spreadsheetUrl(spreadsheetId)}/values:batchUpdateByDataFilter`;
    const res = await this.call('POST', url, { valueInputOption: 'RAW', data: data.map((d) => ({ ...d, majorDimension: 'ROWS' })) });
    if (res.status !== 200) throw this.failure('POST', url, res);
    const body = UpdatedByDataFilterSchema.safeParse(res.body);
    if (!body.success) throw transientFailure(ErrorType.UnexpectedApiResponse, 'Google Sheets answered an unreadable data-filter write');
    return body.data.responses.map((r) => r.dataFilter as DataFilter);
  }

  /** spreadsheets.batchUpdate: structural requests, applied together or not at all; one write request. */
  async batchUpdateSpreadsheet(spreadsheetId: string, requests: Record<string, unknown>[]): Promise<unknown[]> {
    const url = `${this.spreadsheetUrl(spreadsheetId)}:batchUpdate`;
    const res = await this.call('POST', url, { requests });
    if (res.status !== 200) throw this.failure('POST', url, res);
    const body = z.object({ replies: z.array(z.unknown()).default([]) }).safeParse(res.body);
    return body.success ? body.data.replies : [];
  }

  forgetSheetId(spreadsheetId: string, title: string): void {
    this.sheetIds.delete(`${spreadsheetId}\n${title}`);
  }

  private spreadsheetUrl(spreadsheetId: string): string {
    return `${this.options.baseUrl}/v4/spreadsheets/${encodeURIComponent(spreadsheetId)}`;
  }

  /**
   * An access token can expire or be revoked before its announced lifetime: a 401 gets the request sent
   * once more with a fresh token (as Google's own clients do) before it counts as refused.
   */
  private async call(method: 'GET' | 'POST', url: string, json?: unknown): Promise<HttpResponse> {
    const res = await this.send(method, url, json);
    if (res.status !== 401) return res;
    this.jwt = undefined;
    return this.send(method, url, json);
  }

  private async send(method: 'GET' | 'POST', url: string, json?: unknown): Promise<HttpResponse> {
    const token = await this.accessToken();
    return send('Google Sheets', {
      method,
      url,
      json,
      headers: { authorization: `Bearer ${token}` },
      timeoutMs: this.options.timeoutMs,
      dispatcher: this.options.dispatcher,
    });
  }

  private client(): JWT {
    if (this.jwt) return this.jwt;
    const key = loadServiceAccount(this.options.credentialsFile);
    const jwt = new JWT({
      email: key.client_email,
      key: key.private_key,
      scopes: [SCOPE],
      // Node's own fetch (undici) instead of the node-fetch that gaxios would import on first use.
      transporterOptions: { fetchImplementation: fetch as never },
    });
    const { tokenUrl, timeoutMs } = this.options;
    // The library always posts to Google's URL and retries on its own; Temporal owns retries here,
    // and tests point the grant at a sandbox, so both are overridden on the way out.
    jwt.transporter.interceptors.request.add({
      resolved: async (request) => {
        if (String(request.url) === GOOGLE_DEFAULT_TOKEN_URL) request.url = new URL(tokenUrl);
        request.retry = false;
        request.retryConfig = { ...request.retryConfig, retry: 0 };
        request.timeout = timeoutMs;
        return request;
      },
    });
    this.jwt = jwt;
    return jwt;
  }

  private async accessToken(): Promise<string> {
    try {
      const { token } = await this.client().getAccessToken();
      if (!token) throw transientFailure(ErrorType.UnexpectedApiResponse, 'Google OAuth answered no access token');
      return token;
    } catch (err) {
      if (err instanceof Error && err.name === 'ApplicationFailure') throw err;
      const e = err as { status?: number; code?: string; name?: string; response?: { status?: number; data?: { error?: unknown } } };
      const status = e.response?.status ?? e.status;
      const code = typeof e.response?.data?.error === 'string' ? `: ${e.response.data.error}` : '';
      if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
        metrics().authFailure('sheets');
        throw permanentFailure(ErrorType.SheetsAuthFailed, `Google OAuth refused the service-account credentials (HTTP ${status}${code}); check GOOGLE_APPLICATION_CREDENTIALS`);
      }
      throw transientFailure(ErrorType.ExternalApiUnavailable, `Google OAuth token request failed (${status ? `HTTP ${status}` : `${e.code ?? e.name ?? 'network error'}`})`);
    }
  }

  private failure(method: string, url: string, res: HttpResponse): Error {
    if (res.status === 401) this.jwt = undefined; // a revoked token must not be reused by the next attempt
    const shared = sharedStatusFailure('Google Sheets', method, url, res);
    if (shared) return shared;
    const googleMessage = bodyMessage(res.body) ?? 'no message';
    switch (res.status) {
      case 401:
      case 403:
        return permanentFailure(ErrorType.SheetsAuthFailed, `Google Sheets refused access (HTTP ${res.status}: ${googleMessage}); share the spreadsheet with the service account`);
      case 400:
      case 404:
        return permanentFailure(ErrorType.SheetsRequestRejected, `Google Sheets rejected the request (HTTP ${res.status}: ${googleMessage})`);
      default:
        return permanentFailure(ErrorType.UnexpectedApiResponse, `Google Sheets answered HTTP ${res.status}: ${googleMessage}`);
    }
  }
}
