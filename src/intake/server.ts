// HTTP intake for callers that are not TypeScript (the Python Tempo integration): authenticate, validate,
// start the workflow and answer at once. It never waits for a sync to finish.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import { describePaymentSync, PaymentInputError, startPaymentSync, type StartPaymentSyncOptions } from '../client/payment-sync-client';

/** A PaymentSyncInput is a few hundred bytes; anything near this is not one. */
export const INTAKE_MAX_BODY_BYTES = 16 * 1024;
const WORKFLOW_ID = /^payment-sync-[A-Za-z0-9._:-]{1,240}$/;

export interface AccessLogEntry {
  time: string;
  msg: 'http';
  method: string;
  path: string;
  status: number;
  durationMs: number;
  bytesIn: number;
  remote?: string;
  workflowId?: string;
  duplicate?: boolean;
  error?: string;
}

export interface IntakeOptions {
  client: Client;
  start: StartPaymentSyncOptions;
  token: string;
  maxBodyBytes?: number;
  /** One structured entry per request; never given the token or any header. */
  log?: (entry: AccessLogEntry) => void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.error));
  }
}

/** Constant-time whatever the lengths: both sides are hashed to 32 bytes first. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && presented.length > 0;
}

async function readBody(req: IncomingMessage, limit: number, note: { bytesIn: number }): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, { error: 'PayloadTooLarge', message: `the body must be at most ${limit} bytes` });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    note.bytesIn += chunk.length;
    if (note.bytesIn > limit) throw new HttpError(413, { error: 'PayloadTooLarge', message: `the body must be at most ${limit} bytes` });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    // RangeError too: absurdly deep nesting exhausts the parser's stack.
    const message = err instanceof SyntaxError ? err.message : 'the JSON is nested too deeply';
    throw new HttpError(400, { error: 'InvalidJson', message: `the body is not valid JSON: ${message}` });
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export interface IntakeServer extends Server {
  /** Stops accepting, then resolves once every request already received has been answered. */
  shutdown(): Promise<void>;
}

export function createIntakeServer(options: IntakeOptions): IntakeServer {
  const limit = options.maxBodyBytes ?? INTAKE_MAX_BODY_BYTES;
  const inFlight = new Set<Promise<void>>();

  async function route(req: IncomingMessage, res: ServerResponse, entry: AccessLogEntry): Promise<void> {
    const method = req.method ?? 'GET';
    const path = entry.path;
    if (path === '/healthz') {
      if (method !== 'GET') throw new HttpError(405, { error: 'MethodNotAllowed', message: 'use GET' }, { allow: 'GET' });
      const temporal = await options.client.connection
        .withDeadline(Date.now() + 2_000, () => options.client.workflowService.getSystemInfo({}))
        .then(
          () => 'ok' as const,
          () => 'unreachable' as const,
        );
      return send(res, temporal === 'ok' ? 200 : 503, { status: temporal === 'ok' ? 'ok' : 'degraded', temporal });
    }
    const isCollection = path === '/v1/payments';
    const item = /^\/v1\/payments\/([^/]+)$/.exec(path);
    if (!isCollection && !item) throw new HttpError(404, { error: 'NotFound', message: 'routes: POST /v1/payments, GET /v1/payments/{workflowId}, GET /healthz' });
    if (!tokenMatches(req.headers.authorization, options.token)) {
      throw new HttpError(401, { error: 'Unauthorized', message: 'send "Authorization: Bearer <INTAKE_TOKEN>"' }, { 'www-authenticate': 'Bearer' });
    }

    if (isCollection) {
      if (method !== 'POST') throw new HttpError(405, { error: 'MethodNotAllowed', message: 'use POST' }, { allow: 'POST' });
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') {
        throw new HttpError(415, { error: 'UnsupportedMediaType', message: 'send the payment as Content-Type: application/json' });
      }
      const raw = parseJson(await readBody(req, limit, entry));
      try {
        const started = await startPaymentSync(options.client, raw, options.start);
        entry.workflowId = started.workflowId;
        entry.duplicate = started.duplicate;
        return send(res, started.duplicate ? 200 : 202, { workflowId: started.workflowId, runId: started.runId });
      } catch (err) {
        if (err instanceof PaymentInputError) throw new HttpError(400, { error: err.type, message: err.message, problems: err.problems });
        throw err;
      }
    }

    if (method !== 'GET') throw new HttpError(405, { error: 'MethodNotAllowed', message: 'use GET' }, { allow: 'GET' });
    const workflowId = decodeURIComponent(item![1]!);
    if (!WORKFLOW_ID.test(workflowId)) {
      throw new HttpError(400, {
        error: 'InvalidWorkflowId',
        problems: [{ field: 'workflowId', message: 'must be a payment-sync-… workflow id as returned by POST /v1/payments' }],
      });
    }
    entry.workflowId = workflowId;
    const view = await describePaymentSync(options.client, workflowId);
    if (!view) throw new HttpError(404, { error: 'NotFound', message: `no payment sync ${workflowId}` });
    return send(res, 200, view);
  }

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const entry: AccessLogEntry = {
      time: new Date().toISOString(),
      msg: 'http',
      method: req.method ?? '',
      path: (req.url ?? '/').split('?')[0]!.slice(0, 300),
      status: 0,
      durationMs: 0,
      bytesIn: 0,
      remote: req.socket.remoteAddress,
    };
    const handled = route(req, res, entry)
      .catch((err: unknown) => {
        if (err instanceof HttpError) {
          entry.error = String(err.body.error);
          // Refused before reading it: do not keep a large body flowing into a connection we are closing.
          const closing: Record<string, string> = err.status === 413 ? { connection: 'close' } : {};
          send(res, err.status, err.body, { ...err.headers, ...closing });
          return;
        }
        if (err instanceof URIError) {
          entry.error = 'InvalidWorkflowId';
          return send(res, 400, { error: 'InvalidWorkflowId', problems: [{ field: 'workflowId', message: 'is not valid percent-encoding' }] });
        }
        // Temporal unreachable or another server-side fault: the caller should retry later.
        entry.error = err instanceof Error ? err.name : 'Error';
        send(res, 503, { error: 'Unavailable', message: 'the payment could not be started now; retry later' }, { 'retry-after': '5' });
      })
      .finally(() => {
        entry.status = res.statusCode;
        entry.durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        options.log?.(entry);
        inFlight.delete(handled);
      });
    inFlight.add(handled);
  });
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  return Object.assign(server, {
    async shutdown(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await closed;
    },
  });
}
