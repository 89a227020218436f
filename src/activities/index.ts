// The worker's activities, built from the API clients so tests can hand in others.
import { ArmadoClient } from '../clients/armado';
import { SheetsClient } from '../clients/sheets';
import { TempoClient } from '../clients/tempo';
import type { Config } from '../config';
import { buildPaymentModeTable } from '../domain/payment-modes';
import { createArmadoActivities } from './armado';
import { createSheetsActivities } from './sheets';
import { createTempoActivities } from './tempo';

export interface ActivityClients {
  tempo: TempoClient;
  armado: ArmadoClient;
  sheets: SheetsClient;
}

export function createClients(config: Config): ActivityClients {
  return {
    tempo: new TempoClient(config.tempo),
    armado: new ArmadoClient(config.armado),
    sheets: new SheetsClient(config.sheets),
  };
}

export function createActivities(config: Config, clients: ActivityClients = createClients(config)) {
  return {
    ...createTempoActivities({
      tempo: clients.tempo,
      defaultDossier: config.tempo.dossier,
      timeZone: config.armado.timeZone,
      paymentModes: buildPaymentModeTable(config.paymentModes),
      billSearch: config.armado.billSearch,
    }),
    ...createArmadoActivities({ armado: clients.armado }),
    ...createSheetsActivities({
      sheets: clients.sheets,
      spreadsheetId: config.sheets.spreadsheetId,
      sheetName: config.sheets.sheetName,
      batchWindowMs: config.ledger.batchWindowMs,
      maxBatch: config.ledger.maxBatch,
      rolloverAfterEvents: config.ledger.rolloverAfterEvents,
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
