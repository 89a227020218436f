// How every process finds its way to Temporal: DESIGN's TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, and Temporal's
// own client configuration (environment variables, temporal.toml profiles) for TLS and API keys.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_SERVER_ADDRESS } from '../../src/scripts/ports';
import { temporalConnectionSettings, tokenFacts } from '../../src/temporal/connection';
import { makePki, type Pki } from '../helpers/certificates';

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

const design = { address: undefined, namespace: 'default' };
// No profile file of the machine's user is read: each case names its own (or none).
const NO_FILE = { TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };

test('nothing configured: plaintext to the embedded server', () => {
  const s = temporalConnectionSettings(design, { ...NO_FILE });
  expect(s).toMatchObject({ address: DEV_SERVER_ADDRESS, namespace: 'default', security: 'plaintext' });
  expect(s.options.tls).toBeUndefined();
});

test('client certificate from the environment: mutual TLS, its material read, its end of validity known', () => {
  const client = pki.issue('env-client');
  const s = temporalConnectionSettings(
    { address: 'temporal:7233', namespace: 'payments' },
    {
      ...NO_FILE,
      TEMPORAL_TLS_CLIENT_CERT_PATH: client.certFile,
      TEMPORAL_TLS_CLIENT_KEY_PATH: client.keyFile,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caFile,
      TEMPORAL_TLS_SERVER_NAME: 'temporal',
    },
  );
  expect(s.security).toBe('mutual-tls');
  expect(s.options.tls).toMatchObject({ serverNameOverride: 'temporal', clientCertPair: { crt: expect.anything(), key: expect.anything() } });
  expect(s.clientCertificateExpires!.getTime()).toBeGreaterThan(Date.now());
  expect(s.clientCertificateExpires!.getTime()).toBeLessThan(Date.now() + 2 * 86_400_000); // issued for a day
});

test('a temporal.toml profile gives address, namespace and TLS; DESIGN variables still win where set', () => {
  const client = pki.issue('toml-client');
  const file = join(pki.dir, 'temporal.toml');
  writeFileSync(
    file,
    `[profile.prod]\naddress = "temporal.internal:7233"\nnamespace = "payments"\n[profile.prod.tls]\nclient_cert_path = "${client.certFile}"\nclient_key_path = "${client.keyFile}"\nserver_ca_cert_path = "${pki.caFile}"\nserver_name = "temporal"\n`,
  );
  const fromProfile = temporalConnectionSettings(design, { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
  expect(fromProfile).toMatchObject({ address: 'temporal.internal:7233', namespace: 'payments', security: 'mutual-tls' });
  const overridden = temporalConnectionSettings(
    { address: '10.0.0.5:7233', namespace: 'other' },
    { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_ADDRESS: '10.0.0.5:7233', TEMPORAL_NAMESPACE: 'other' },
  );
  expect(overridden).toMatchObject({ address: '10.0.0.5:7233', namespace: 'other', security: 'mutual-tls' });
});

test('Temporal Cloud API key: TLS on, the key sent, never a certificate', () => {
  const s = temporalConnectionSettings({ address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct' }, { ...NO_FILE, TEMPORAL_API_KEY: 'cloud-key-0123456789' });
  expect(s).toMatchObject({ security: 'api-key', options: { apiKey: 'cloud-key-0123456789', tls: true } });
});

test('mistakes are named by their variable, and no file content or key is in the message', () => {
  const client = pki.issue('half');
  expect(() => temporalConnectionSettings(design, { ...NO_FILE, TEMPORAL_TLS_CLIENT_CERT_PATH: '/nope/client.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: client.keyFile })).toThrow(
    'TEMPORAL_TLS_CLIENT_CERT_PATH: the client certificate file /nope/client.pem does not exist',
  );
  expect(() => temporalConnectionSettings(design, { ...NO_FILE, TEMPORAL_TLS_CLIENT_CERT_PATH: client.certFile })).toThrow(
    /TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both/,
  );
  let message = '';
  try {
    temporalConnectionSettings(design, { ...NO_FILE, TEMPORAL_TLS_CLIENT_CERT_PATH: client.keyFile, TEMPORAL_TLS_CLIENT_KEY_PATH: client.keyFile });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toBe(`TEMPORAL_TLS_CLIENT_CERT_PATH: ${client.keyFile} is not a PEM certificate`);
  expect(message).not.toContain('PRIVATE KEY');
});

test('a certificate and a token together: mutual TLS plus the token; what the token says is read for doctor, never verified here', async () => {
  const { startLocalIssuer } = await import('../../dev/cluster/tokens');
  const issuer = await startLocalIssuer();
  try {
    const token = await issuer.token({ subject: 'worker', permissions: ['payments:write', 'other:admin'], expiresIn: 7_200 });
    const client = pki.issue('token-client');
    const s = temporalConnectionSettings(
      { address: 'temporal:7233', namespace: 'payments' },
      {
        ...NO_FILE,
        TEMPORAL_API_KEY: token,
        TEMPORAL_TLS_CLIENT_CERT_PATH: client.certFile,
        TEMPORAL_TLS_CLIENT_KEY_PATH: client.keyFile,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caFile,
      },
    );
    expect(s.security).toBe('mutual-tls+token');
    const facts = tokenFacts(token, 'payments')!;
    expect(facts).toMatchObject({ subject: 'worker', roles: ['payments:write'] });
    expect(facts.expires!.getTime() - Date.now()).toBeGreaterThan(7_100_000);
    expect(tokenFacts(await issuer.token({ subject: 'root', permissions: ['temporal-system:admin'] }), 'payments')!.roles).toEqual(['temporal-system:admin']);
    expect(tokenFacts('cloud-key-0123456789', 'payments')).toBeUndefined();
  } finally {
    await issuer.stop();
  }
});

test('a token with a space, a line break or a non-ASCII character is refused naming the variable, never quoting it', () => {
  for (const bad of ['eyJh bGci', 'eyJhbGci\n', 'eyJhbGciÖ']) {
    let message = '';
    try {
      temporalConnectionSettings(design, { ...NO_FILE, TEMPORAL_API_KEY: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^TEMPORAL_API_KEY: must be one token of printable ASCII/);
    expect(message).not.toContain('eyJh');
  }
});
