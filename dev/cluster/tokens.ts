// A local token issuer for the cluster and its tests: a signing key made at start (never written anywhere), its
// public half served as a JWKS on loopback, and JWTs the Temporal server's default claim mapper reads
// (`permissions: ["<namespace>:<role>"]`). In production an identity provider does this (README "Security").
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';

export type TemporalRole = 'read' | 'write' | 'admin';

export interface TokenRequest {
  subject: string;
  /** `<namespace>:<role>` entries, e.g. `default:write`. */
  permissions: string[];
  /** Seconds from now; negative for a token already expired. Default one hour. */
  expiresIn?: number;
}

export interface LocalIssuer {
  jwksUri: string;
  token(request: TokenRequest): Promise<string>;
  /** The same claims signed by a key the JWKS does not publish: the server must refuse it. */
  foreignToken(request: TokenRequest): Promise<string>;
  stop(): Promise<void>;
}

async function sign(key: KeyLike, kid: string, request: TokenRequest): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ permissions: request.permissions })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject(request.subject)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (request.expiresIn ?? 3_600))
    .setJti(randomUUID())
    .sign(key);
}

export async function startLocalIssuer(): Promise<LocalIssuer> {
  const kid = `local-${randomUUID().slice(0, 8)}`;
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const foreign = await generateKeyPair('RS256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    jwksUri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    token: (request) => sign(privateKey, kid, request),
    // Same kid: only the signature tells it apart.
    foreignToken: (request) => sign(foreign.privateKey, kid, request),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
