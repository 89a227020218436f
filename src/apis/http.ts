// One HTTP exchange over undici: timeouts, JSON bodies, and the failures every API shares (network, 429, 5xx).
import { Context } from '@temporalio/activity';
import { errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ErrorType, transientFailure } from '../domain/errors';
import { metrics, type ApiSystem } from '../metrics';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  retryAfterMs?: number;
}

const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Retry-After as delta-seconds or an HTTP date; capped so a hostile header cannot park a run for days. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const trimmed = text.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The request target as it may appear in an error: path and query only, never credentials. */
export function describeTarget(method: string, url: string): string {
  const u = new URL(url);
  return `${method} ${u.pathname}${u.search}`;
}

/** The running activity's cancellation (timed out, cancelled, worker shutting down), if any. */
function activityCancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined; // not inside an activity (CLI, doctor, unit tests)
  }
}

/**
 * Sends one request. Inside an activity it is abandoned as soon as the activity is cancelled or times
 * out, so an attempt never keeps talking to an API beside its own retry. Network errors and timeouts become a retryable failure naming `system`;
 * any HTTP status is returned for the caller's own classification.
 */
export async function send(system: string, req: HttpRequest): Promise<HttpResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.json);
  }
  const target = describeTarget(req.method, req.url);
  const deadline = AbortSignal.timeout(req.timeoutMs);
  const cancellation = activityCancellation();
  const started = performance.now();
  const api = metricsSystem(system);
  try {
    const res = await request(req.url, {
      method: req.method,
      headers,
      body,
      dispatcher: req.dispatcher,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
      signal: cancellation ? AbortSignal.any([deadline, cancellation]) : deadline,
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    if (text.length > 0 && /json/i.test(String(res.headers['content-type'] ?? ''))) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    metrics().apiRequest(api, res.statusCode, performance.now() - started);
    if (res.statusCode === 401 || res.statusCode === 403) metrics().authFailure(api);
    return {
      status: res.statusCode,
      headers: res.headers,
      body: parsed,
      retryAfterMs: parseRetryAfter(res.headers['retry-after']),
    };
  } catch (err) {
    if (cancellation?.aborted) throw cancellation.reason;
    const timedOut =
      deadline.aborted ||
      err instanceof undiciErrors.HeadersTimeoutError ||
      err instanceof undiciErrors.BodyTimeoutError ||
      (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
    metrics().apiRequest(api, timedOut ? 'timeout' : 'network-error', performance.now() - started);
    const reason = timedOut ? `timed out after ${req.timeoutMs / 1000}s` : `failed: ${err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'network error'}`;
    throw transientFailure(ErrorType.ExternalApiUnavailable, `${system} ${target} ${reason}`);
  }
}

function metricsSystem(system: string): ApiSystem {
  const s = system.toLowerCase();
  return s.includes('sheets') || s.includes('google') ? 'sheets' : s.includes('armado') ? 'armado' : 'tempo';
}

/** The failures that mean the same thing for every API: rate limiting and server trouble. */
export function sharedStatusFailure(system: string, method: string, url: string, res: HttpResponse): Error | undefined {
  const target = describeTarget(method, url);
  if (res.status === 429) {
    return transientFailure(ErrorType.ExternalApiUnavailable, `${system} ${target} answered 429 (rate limited)`, res.retryAfterMs);
  }
  if (res.status >= 500) {
    return transientFailure(ErrorType.ExternalApiUnavailable, `${system} ${target} answered ${res.status}`, res.retryAfterMs);
  }
  return undefined;
}

/** A short, printable excerpt of an error body (APIs' own messages, never our request). */
export function bodyMessage(body: unknown): string | undefined {
  if (body && typeof body === 'object') {
    const b = body as { message?: unknown; error?: unknown };
    if (typeof b.message === 'string') return b.message.slice(0, 500);
    if (b.error && typeof b.error === 'object' && typeof (b.error as { message?: unknown }).message === 'string') {
      return (b.error as { message: string }).message.slice(0, 500);
    }
    if (typeof b.error === 'string') return b.error.slice(0, 500);
  }
  if (typeof body === 'string' && body.length > 0) return body.slice(0, 200);
  return undefined;
}
