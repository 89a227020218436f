// What every sandbox shares: a loopback HTTP server on a free port, a request log, latency and fault injection.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SandboxRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  rawBody: string;
}

export interface SandboxResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Fault {
  method?: string;
  /** Matches when the request path starts with it. */
  path?: string;
  /** Matches when the query string holds this `name=value` pair: a fault for one invoice among many. */
  query?: string;
  /** How many matching requests it affects (default 1). */
  times?: number;
  status?: number;
  body?: unknown;
  /** Seconds, or an HTTP date. */
  retryAfter?: string | number;
  delayMs?: number;
  /** Accept the request and never answer (a client timeout is the only way out). */
  hang?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number | 'hang' | 'lost';
  at: number;
  /** The query string, e.g. `?reference=20664`. */
  query: string;
}

/** Random faults on every request: a share refused (503/429), and a share of writes applied with the answer lost. */
export interface Chaos {
  failRate: number;
  loseReplyRate: number;
  /** The first writes lose their answer whatever the rate, so that a short run surely meets the case. */
  minLostReplies?: number;
  /** A seeded generator makes a run reproducible. */
  random: () => number;
}

export type Handler = (req: SandboxRequest) => SandboxResponse | Promise<SandboxResponse>;

const MAX_BODY = 5 * 1024 * 1024;

export class SandboxServer {
  readonly requests: RecordedRequest[] = [];
  /** Requests as they arrive, before latency and faults: what a client has in flight. */
  readonly arrivals: Omit<RecordedRequest, 'status'>[] = [];
  latencyMs = 0;
  chaos?: Chaos;
  /** Writes applied whose answer the client never got (chaos). */
  lostReplies = 0;
  private faults: (Fault & { remaining: number })[] = [];
  private server?: Server;
  private url?: string;

  constructor(
    readonly name: string,
    private readonly handler: Handler,
    private readonly describeState: () => unknown = () => ({}),
  ) {}

  get baseUrl(): string {
    if (!this.url) throw new Error(`${this.name} sandbox is not started`);
    return this.url;
  }

  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) json(res, 500, { message: `sandbox error: ${(err as Error).message}` });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  injectFault(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  count(method: string, pathPrefix: string, status?: number | 'hang' | 'lost'): number {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix) && (status === undefined || r.status === status)).length;
  }

  private takeFault(method: string, path: string, query: URLSearchParams): Fault | undefined {
    const matchesQuery = (pair: string) => {
      const [name, value] = pair.split('=');
      return query.get(name ?? '') === (value ?? '');
    };
    const index = this.faults.findIndex(
      (f) => (!f.method || f.method === method) && (!f.path || path.startsWith(f.path)) && (!f.query || matchesQuery(f.query)) && f.remaining > 0,
    );
    if (index < 0) return undefined;
    const fault = this.faults[index] as Fault & { remaining: number };
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    const rawBody = await readBody(req);
    if (rawBody === undefined) return json(res, 413, { message: 'body too large' });

    if (url.pathname.startsWith('/_sandbox/')) return this.control(method, url.pathname, rawBody, res);

    this.arrivals.push({ method, path: url.pathname, query: url.search, at: Date.now() });
    const record = (status: number | 'hang' | 'lost') => this.requests.push({ method, path: url.pathname, query: url.search, status, at: Date.now() });
    if (this.latencyMs > 0) await delay(this.latencyMs);
    const fault = this.takeFault(method, url.pathname, url.searchParams);
    if (fault?.delayMs) await delay(fault.delayMs);
    if (fault?.hang) {
      record('hang');
      return; // the socket stays open until the client gives up or the sandbox stops
    }
    if (fault?.status) {
      record(fault.status);
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      return json(res, fault.status, fault.body ?? { message: `injected ${fault.status}` }, headers);
    }

    if (this.chaos && this.chaos.random() < this.chaos.failRate) {
      const status = this.chaos.random() < 0.5 ? 503 : 429;
      record(status);
      return json(res, status, { message: `chaos ${status}` }, status === 429 ? { 'retry-after': '1' } : {});
    }

    let body: unknown = rawBody;
    const type = String(req.headers['content-type'] ?? '');
    try {
      if (type.includes('json') && rawBody) body = JSON.parse(rawBody);
      else if (type.includes('x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(rawBody));
    } catch {
      record(400);
      return json(res, 400, { message: 'malformed JSON body' });
    }
    const out = await this.handler({ method, path: url.pathname, query: url.searchParams, headers: req.headers, body, rawBody });
    const loseIt = this.chaos && (this.lostReplies < (this.chaos.minLostReplies ?? 0) || this.chaos.random() < this.chaos.loseReplyRate);
    if (this.chaos && method !== 'GET' && url.pathname !== '/token' && out.status < 300 && loseIt) {
      // Applied, but the client never hears of it: only reading again tells it what happened.
      record('lost');
      this.lostReplies += 1;
      res.destroy();
      return;
    }
    record(out.status);
    json(res, out.status, out.body, out.headers);
  }

  /** Lets a demo or a person inspect and steer a sandbox over HTTP too. */
  private control(method: string, path: string, rawBody: string, res: ServerResponse): void {
    if (method === 'GET' && path === '/_sandbox/state') return json(res, 200, this.describeState());
    if (method === 'GET' && path === '/_sandbox/requests') return json(res, 200, this.requests);
    if (method === 'POST' && path === '/_sandbox/faults') {
      try {
        this.injectFault(JSON.parse(rawBody) as Fault);
        return json(res, 204, undefined);
      } catch {
        return json(res, 400, { message: 'a fault is a JSON object' });
      }
    }
    if (method === 'DELETE' && path === '/_sandbox/faults') {
      this.clearFaults();
      return json(res, 204, undefined);
    }
    json(res, 404, { message: 'unknown sandbox control endpoint' });
  }
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
