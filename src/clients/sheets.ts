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

export class SheetsClient {
  private jwt?: JWT;

  constructor(private readonly options: SheetsClientOptions) {}

  async readValues(spreadsheetId: string, range: string): Promise<string[][]> {
    const url = `${this.options.baseUrl}/v4/spreadsheets/${encodeURIComponent(spreadsheetId)}/values/${encodeURIComponent(range)}?majorDimension=ROWS`;
    const res = await this.call('GET', url);
    if (res.status !== 200) throw this.failure('GET', url, res);
    const body = z.object({ values: z.array(z.array(z.unknown())).optional() }).safeParse(res.body);
    if (!body.success) throw transientFailure(ErrorType.UnexpectedApiResponse, 'Google Sheets answered an unreadable value range');
    return (body.data.values ?? []).map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  }

  /** One write request for any number of ranges: the unit Google's write quota counts. */
  async batchUpdate(spreadsheetId: string, data: ValueRange[]): Promise<void> {
    const url = `${this.options.baseUrl}/v4/spreadsheets/${encodeURIComponent(spreadsheetId)}/values:batchUpdate`;
    const res = await this.call('POST', url, { valueInputOption: 'RAW', data });
    if (res.status !== 200) throw this.failure('POST', url, res);
  }

  private async call(method: 'GET' | 'POST', url: string, json?: unknown): Promise<HttpResponse> {
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
        throw permanentFailure(
          ErrorType.SheetsAuthFailed,
          `Google OAuth refused the service-account credentials (HTTP ${status}${code}); check GOOGLE_APPLICATION_CREDENTIALS`,
        );
      }
      throw transientFailure(
        ErrorType.ExternalApiUnavailable,
        `Google OAuth token request failed (${status ? `HTTP ${status}` : `${e.code ?? e.name ?? 'network error'}`})`,
      );
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
        return permanentFailure(
          ErrorType.SheetsAuthFailed,
          `Google Sheets refused access (HTTP ${res.status}: ${googleMessage}); share the spreadsheet with the service account`,
        );
      case 400:
      case 404:
        return permanentFailure(ErrorType.SheetsRequestRejected, `Google Sheets rejected the request (HTTP ${res.status}: ${googleMessage})`);
      default:
        return permanentFailure(ErrorType.UnexpectedApiResponse, `Google Sheets answered HTTP ${res.status}: ${googleMessage}`);
    }
  }
}
