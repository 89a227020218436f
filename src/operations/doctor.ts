// `tempo-armado-sync doctor`: one harmless call per system, each answered OK or with what to fix.
// Messages come from the typed clients (which never carry a secret) or are written here.
import { Client, type Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ArmadoClient } from '../apis/armado';
import { loadServiceAccount, SheetsClient } from '../apis/sheets';
import { TempoClient } from '../apis/tempo';
import type { Config } from '../config';
import { connectClient, temporalConnectionSettings, tokenFacts, type TemporalConnectionSettings } from '../temporal/connection';
import { ErrorType, failureMessageOf, failureTypeOf } from '../domain/errors';
import { LEDGER_HEADER } from '../domain/shapes';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/contract';

export interface DoctorCheck {
  name: 'temporal' | 'tempo' | 'armado' | 'sheets';
  ok: boolean;
  message: string;
}

const DEADLINE_MS = 10_000;

/** How the connection is secured, until when the client certificate is valid, and who the token says the caller is. */
function securityOf(settings: TemporalConnectionSettings): string {
  const parts: string[] = [settings.security];
  if (settings.clientCertificateExpires) {
    const days = Math.floor((settings.clientCertificateExpires.getTime() - Date.now()) / 86_400_000);
    parts.push(`client certificate valid until ${settings.clientCertificateExpires.toISOString().slice(0, 10)} (${days < 0 ? 'EXPIRED' : `${days} days`})`);
  }
  const token = tokenReport(settings);
  if (token) parts.push(token.text);
  return parts.join(', ');
}

/** The token's subject, roles on this namespace and expiry (TEMPORAL_API_KEY), never the token itself. */
function tokenReport(settings: TemporalConnectionSettings): { text: string; expired: boolean } | undefined {
  const apiKey = typeof settings.options.apiKey === 'string' ? settings.options.apiKey : undefined;
  if (!apiKey) return undefined;
  const facts = tokenFacts(apiKey, settings.namespace);
  if (!facts) return { text: 'an API key that is not a JWT (subject, role and expiry not readable here)', expired: false };
  const expired = facts.expires !== undefined && facts.expires.getTime() <= Date.now();
  const until = facts.expires
    ? `${expired ? 'EXPIRED at' : 'expires'} ${facts.expires.toISOString().slice(0, 16).replace('T', ' ')} UTC${expired ? '' : ` (in ${Math.round((facts.expires.getTime() - Date.now()) / 3_600_000)} h)`}`
    : 'no expiry';
  return { text: `token of ${facts.subject ?? '(no subject)'}, role ${facts.roles.join(' ') || `none on "${settings.namespace}"`}, ${until}`, expired };
}

async function checkTemporal(config: Config, env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  let settings: TemporalConnectionSettings;
  try {
    settings = temporalConnectionSettings(config.temporal, env);
  } catch (err) {
    return { name: 'temporal', ok: false, message: failureMessageOf(err) };
  }
  const address = settings.address;
  const security = securityOf(settings);
  if (settings.clientCertificateExpires && settings.clientCertificateExpires.getTime() < Date.now()) {
    return { name: 'temporal', ok: false, message: `${security}: renew the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)` };
  }
  if (tokenReport(settings)?.expired) {
    return { name: 'temporal', ok: false, message: `${security}: get a new token (TEMPORAL_API_KEY); the server refuses an expired one` };
  }
  let connection: Connection | undefined;
  try {
    connection = await connectClient(settings, { connectTimeout: 5_000 });
    // The TLS handshake (and a refused client certificate) shows on the first call, not at connect.
    await connection.withDeadline(Date.now() + DEADLINE_MS, () => connection!.healthService.check({}));
  } catch (err) {
    await connection?.close();
    return {
      name: 'temporal',
      ok: false,
      message: `cannot reach Temporal at ${address} (${security}; ${failureMessageOf(err)}): start it (npm start) or fix TEMPORAL_ADDRESS and the TLS settings`,
    };
  }
  try {
    const namespace = settings.namespace;
    const client = new Client({ connection, namespace });
    try {
      await connection.withDeadline(Date.now() + DEADLINE_MS, () => client.workflowService.describeNamespace({ namespace }));
    } catch (err) {
      return {
        name: 'temporal',
        ok: false,
        message: `namespace "${namespace}" is not usable at ${address} (${failureMessageOf(err)}): create it (temporal operator namespace create ${namespace}) or fix TEMPORAL_NAMESPACE`,
      };
    }
    const { customAttributes: keys } = await connection.withDeadline(Date.now() + DEADLINE_MS, () => connection!.operatorService.listSearchAttributes({ namespace }));
    const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    const missing = SEARCH_ATTRIBUTE_KEYS.map((k) => k.name).filter((name) => keys?.[name] !== keyword);
    if (missing.length > 0) {
      return {
        name: 'temporal',
        ok: false,
        message: `search attributes missing in "${namespace}": ${missing.join(', ')}; register them: ${missing.map((m) => `temporal operator search-attribute create --name ${m} --type Keyword`).join(' && ')}`,
      };
    }
    return {
      name: 'temporal',
      ok: true,
      message: `namespace "${namespace}" at ${address} (${security}); search attributes ${SEARCH_ATTRIBUTE_KEYS.map((k) => k.name).join(', ')} registered`,
    };
  } catch (err) {
    return { name: 'temporal', ok: false, message: `Temporal at ${address} answered an error (${failureMessageOf(err)})` };
  } finally {
    await connection.close();
  }
}

async function checkTempo(config: Config, probeInvoice: string): Promise<DoctorCheck> {
  try {
    const status = await new TempoClient(config.tempo).getInvoice(config.tempo.dossier, probeInvoice);
    return {
      name: 'tempo',
      ok: true,
      message: `credentials accepted; invoice ${probeInvoice} of dossier ${config.tempo.dossier} read (${status.fullyPaid ? 'fully paid' : 'not fully paid'})`,
    };
  } catch (err) {
    switch (failureTypeOf(err)) {
      case ErrorType.TempoInvoiceNotFound:
        return {
          name: 'tempo',
          ok: true,
          message: `credentials accepted (FACTURE answered 404 for probe invoice ${probeInvoice}; give --invoice <a real one> to check dossier ${config.tempo.dossier} too)`,
        };
      case ErrorType.TempoAuthFailed:
        return { name: 'tempo', ok: false, message: `Tempo refused the credentials: fix TEMPO_USERNAME / TEMPO_PASSWORD (${failureMessageOf(err)})` };
      default:
        return { name: 'tempo', ok: false, message: `Tempo did not answer as expected: check TEMPO_BASE_URL and the network (${failureMessageOf(err)})` };
    }
  }
}

async function checkArmado(config: Config): Promise<DoctorCheck> {
  // A reference no bill can have: the search must succeed and find nothing.
  const probe = `tempo-armado-sync-doctor-${Date.now()}`;
  try {
    const bills = await new ArmadoClient(config.armado).searchBills(probe);
    const exact = bills.filter((b) => b.reference === probe).length;
    return { name: 'armado', ok: true, message: `API key accepted (bill search for a probe reference found ${exact} bill(s))` };
  } catch (err) {
    if (failureTypeOf(err) === ErrorType.ArmadoAuthFailed)
      return { name: 'armado', ok: false, message: `Armado refused the API key: fix ARMADO_API_KEY (${failureMessageOf(err)})` };
    return { name: 'armado', ok: false, message: `Armado did not answer as expected: check ARMADO_BASE_URL and the network (${failureMessageOf(err)})` };
  }
}

async function checkSheets(config: Config): Promise<DoctorCheck> {
  const { spreadsheetId, sheetName, credentialsFile } = config.sheets;
  let serviceAccount = 'the service account';
  try {
    serviceAccount = loadServiceAccount(credentialsFile).client_email;
    const [header = []] = await new SheetsClient(config.sheets).readValues(spreadsheetId, `'${sheetName.replace(/'/g, "''")}'!A1:H1`);
    if (header.length === 0) return { name: 'sheets', ok: true, message: `tab "${sheetName}" readable and empty: the header row is written with the first payment` };
    const expected = [...LEDGER_HEADER];
    if (header.join('|') !== expected.join('|')) {
      return { name: 'sheets', ok: false, message: `row 1 of "${sheetName}" is not the ledger header: expected "${expected.join(' | ')}", found "${header.join(' | ')}"` };
    }
    return { name: 'sheets', ok: true, message: `tab "${sheetName}" readable; ledger header in place` };
  } catch (err) {
    switch (failureTypeOf(err)) {
      case ErrorType.SheetsAuthFailed:
        return {
          name: 'sheets',
          ok: false,
          message: `Google refused access: share the spreadsheet with ${serviceAccount} as Editor, or check GOOGLE_APPLICATION_CREDENTIALS (${failureMessageOf(err)})`,
        };
      case ErrorType.SheetsRequestRejected:
        return {
          name: 'sheets',
          ok: false,
          message: `Google rejected the read: check GOOGLE_SHEETS_SPREADSHEET_ID and that the tab "${sheetName}" exists (GOOGLE_SHEETS_SHEET_NAME) (${failureMessageOf(err)})`,
        };
      default:
        return {
          name: 'sheets',
          ok: false,
          message: `Google did not answer as expected: check GOOGLE_OAUTH_TOKEN_URL / GOOGLE_SHEETS_BASE_URL and the network (${failureMessageOf(err)})`,
        };
    }
  }
}

/** Runs the four checks side by side. */
export async function runDoctor(config: Config, options: { env?: NodeJS.ProcessEnv; probeInvoice?: string } = {}): Promise<DoctorCheck[]> {
  return Promise.all([checkTemporal(config, options.env ?? process.env), checkTempo(config, options.probeInvoice ?? '0'), checkArmado(config), checkSheets(config)]);
}
