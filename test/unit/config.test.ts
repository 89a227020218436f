import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadIntakeConfig, loadTemporalConfig } from '../../src/config';

const keyFile = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'key.json');
writeFileSync(keyFile, '{}');

const base = {
  TEMPO_BASE_URL: 'https://tempo.example.fr/API/Tempo',
  TEMPO_DOSSIER: 'D1',
  TEMPO_USERNAME: 'user',
  TEMPO_PASSWORD: 'tempo-Secret-123',
  ARMADO_API_KEY: 'armado-Secret-456',
  GOOGLE_SHEETS_SPREADSHEET_ID: 'sheet123',
  GOOGLE_APPLICATION_CREDENTIALS: keyFile,
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

test('defaults follow DESIGN §5', () => {
  const config = loadConfig(base);
  expect(config.temporal).toEqual({ address: undefined, namespace: 'default', taskQueue: 'payment-sync' });
  expect(config.armado).toMatchObject({ baseUrl: 'https://api.myarmado.fr', timeoutMs: 10_000, timeZone: 'Europe/Paris' });
  expect(config.armado.billSearch).toEqual({ intervalMs: 15 * 60_000, giveUpAfterMs: 3 * 24 * 3_600_000 });
  expect(config.sheets).toMatchObject({ sheetName: 'Paiements', tokenUrl: 'https://oauth2.googleapis.com/token', baseUrl: 'https://sheets.googleapis.com' });
});

test('one line per missing variable, naming it', () => {
  expect(problems({})).toEqual(
    expect.arrayContaining([
      'TEMPO_BASE_URL: is required',
      'TEMPO_DOSSIER: is required',
      'TEMPO_PASSWORD: is required',
      'ARMADO_API_KEY: is required',
      'GOOGLE_SHEETS_SPREADSHEET_ID: is required',
      expect.stringMatching(/^GOOGLE_APPLICATION_CREDENTIALS: must name/),
    ]),
  );
});

test('plain http is refused except to loopback', () => {
  expect(problems({ ...base, ARMADO_BASE_URL: 'http://api.myarmado.fr' })).toEqual([expect.stringMatching(/^ARMADO_BASE_URL: must use https/)]);
  expect(problems({ ...base, TEMPO_BASE_URL: 'http://10.0.0.5/API/Tempo' })).toHaveLength(1);
  expect(problems({ ...base, ARMADO_BASE_URL: 'http://127.0.0.1:9000', GOOGLE_SHEETS_BASE_URL: 'http://localhost:1' })).toEqual([]);
});

test('malformed values are named, and secrets never echoed', () => {
  const lines = problems({
    ...base,
    ARMADO_TIMEOUT: 'soon',
    ARMADO_TIMEZONE: 'Mars/Olympus',
    ARMADO_BILL_RETRY_INTERVAL: 'often',
    PAYMENT_MODE_MAP: '{"lcr": "nine"}',
    TEMPO_DOSSIER: 'bad dossier tempo-Secret-123',
  });
  expect(lines.map((l) => l.split(':')[0]).sort()).toEqual(['ARMADO_BILL_RETRY_INTERVAL', 'ARMADO_TIMEOUT', 'ARMADO_TIMEZONE', 'PAYMENT_MODE_MAP', 'TEMPO_DOSSIER']);
  expect(lines.join('\n')).not.toMatch(/Secret/);
});

test('PAYMENT_MODE_MAP keys are normalized', () => {
  expect(loadConfig({ ...base, PAYMENT_MODE_MAP: '{" LCR ": 9, "Traite": 10}' }).paymentModes).toEqual({ lcr: 9, traite: 10 });
});

describe('intake and caller configuration', () => {
  test('the intake needs a token of 16+ characters; every problem is listed, no value echoed', () => {
    const err = (() => {
      try {
        loadIntakeConfig({ INTAKE_TOKEN: 'short-secret', INTAKE_PORT: 'eighty' });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual([
      'TEMPO_DOSSIER: is required',
      expect.stringMatching(/^INTAKE_PORT: /),
      'INTAKE_TOKEN: must be at least 16 characters (use a random secret, e.g. `openssl rand -hex 32`)',
    ]);
    expect(err.message).not.toContain('short-secret');
    expect(() => loadIntakeConfig({ TEMPO_DOSSIER: 'D' })).toThrow('INTAKE_TOKEN: is required: the intake refuses to start without a bearer token');
  });

  test('callers need no API credentials: Temporal, the default dossier and the mode table', () => {
    expect(loadIntakeConfig({ TEMPO_DOSSIER: 'D', INTAKE_TOKEN: 'x'.repeat(32), PAYMENT_MODE_MAP: '{"LCR": 9}' })).toEqual({
      temporal: { address: undefined, namespace: 'default', taskQueue: 'payment-sync' },
      defaultDossier: 'D',
      paymentModes: { lcr: 9 },
      intake: { port: 8787, token: 'x'.repeat(32) },
    });
    expect(loadTemporalConfig({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'prod' })).toEqual({
      address: 'temporal:7233',
      namespace: 'prod',
      taskQueue: 'payment-sync',
    });
  });
});

test('a bill-search schedule that would outgrow a run history is refused, naming both variables', () => {
  expect(problems({ ...base, ARMADO_BILL_RETRY_INTERVAL: '30s', ARMADO_BILL_RETRY_FOR: '3d' })).toEqual([
    expect.stringMatching(/^ARMADO_BILL_RETRY_INTERVAL: must be at least ARMADO_BILL_RETRY_FOR \/ 1000 \(260s here\)/),
  ]);
  expect(problems({ ...base, ARMADO_BILL_RETRY_INTERVAL: '5m', ARMADO_BILL_RETRY_FOR: '3d' })).toEqual([]);
});

test('BACKLOG_SAMPLE_INTERVAL: a duration from a second to 5 minutes, or 0 for off; anything else is named', () => {
  expect(loadConfig({ ...base, BACKLOG_SAMPLE_INTERVAL: '0' }).worker.backlogSampleIntervalMs).toBe(0);
  expect(loadConfig({ ...base, BACKLOG_SAMPLE_INTERVAL: '5m' }).worker.backlogSampleIntervalMs).toBe(300_000);
  for (const bad of ['500ms', 'often', '-1s', '10m']) {
    expect(problems({ ...base, BACKLOG_SAMPLE_INTERVAL: bad })).toEqual(['BACKLOG_SAMPLE_INTERVAL: must be 0 (off) or a duration from 1s to 5m, such as "60s"']);
  }
});
