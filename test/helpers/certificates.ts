// Certificates for the mutual-TLS tests, made with openssl (Debian's package) in a temporary folder at test
// time: a CA, the server's certificate (serverAuth + clientAuth, name "temporal", 127.0.0.1), client
// certificates signed by it, and a second CA of its own for the certificates the server must refuse.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  caFile: string;
  serverName: string;
  server: { certFile: string; keyFile: string };
  issue(name: string, by?: 'ca' | 'other-ca'): { certFile: string; keyFile: string };
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

function makeCa(dir: string, name: string): void {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`],
    dir,
  );
}

function sign(dir: string, ca: string, name: string, extensions: string): { certFile: string; keyFile: string } {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`],
    dir,
  );
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'tempo-armado-sync-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const serverName = 'temporal';
  const server = sign(dir, 'ca', 'server', `subjectAltName=DNS:${serverName},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`);
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverName,
    server,
    issue: (name, by = 'ca') => sign(dir, by, name, 'extendedKeyUsage=clientAuth\n'),
  };
}
