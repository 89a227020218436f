// Starts the three sandboxes together and derives the service configuration that points at them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArmadoSandbox } from './armado';
import { GoogleSandbox } from './google';
import { TempoSandbox } from './tempo';

export { ArmadoSandbox } from './armado';
export { GoogleSandbox } from './google';
export { TempoSandbox } from './tempo';
export type { Fault } from './http-kit';

export interface Sandboxes {
  tempo: TempoSandbox;
  armado: ArmadoSandbox;
  google: GoogleSandbox;
  spreadsheetId: string;
  /** Environment variables (DESIGN §5) that point the service at these sandboxes. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startSandboxes(options: { spreadsheetId?: string; keyDir?: string; ports?: { tempo?: number; armado?: number; google?: number } } = {}): Promise<Sandboxes> {
  const tempo = new TempoSandbox();
  const armado = new ArmadoSandbox();
  const google = new GoogleSandbox();
  await Promise.all([tempo.server.start(options.ports?.tempo), armado.server.start(options.ports?.armado), google.server.start(options.ports?.google)]);
  const spreadsheetId = options.spreadsheetId ?? 'sandbox-ledger';
  google.createSpreadsheet(spreadsheetId);
  const keyFile = google.writeServiceAccountKey(options.keyDir ?? mkdtempSync(join(tmpdir(), 'tempo-armado-sync-')));
  return {
    tempo,
    armado,
    google,
    spreadsheetId,
    env: {
      TEMPO_BASE_URL: tempo.baseUrl,
      TEMPO_DOSSIER: tempo.dossiers[0] as string,
      TEMPO_USERNAME: tempo.credentials.username,
      TEMPO_PASSWORD: tempo.credentials.password,
      ARMADO_BASE_URL: armado.baseUrl,
      ARMADO_API_KEY: armado.apiKey,
      GOOGLE_SHEETS_SPREADSHEET_ID: spreadsheetId,
      GOOGLE_APPLICATION_CREDENTIALS: keyFile,
      GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
      GOOGLE_SHEETS_BASE_URL: google.baseUrl,
    },
    async stop() {
      await Promise.all([tempo.server.stop(), armado.server.stop(), google.server.stop()]);
    },
  };
}
