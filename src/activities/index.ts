// The worker's activities, built from the API clients so tests can hand in others; each one heartbeats.
import { Context } from '@temporalio/activity';
import { ArmadoClient } from '../apis/armado';
import { SheetsClient } from '../apis/sheets';
import { TempoClient } from '../apis/tempo';
import { stepTimeouts, type Config } from '../config';
import { buildPaymentModeTable } from '../domain/payment-modes';
import { createArmadoActivities } from './armado';
import { createLedgerWriterActivities } from './ledger-writer';
import { createReconcileActivities } from './reconcile';
import { createLedgerStepActivities } from './ledger-step';
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

/** How often a running activity tells the server it is alive (the SDK throttles to 80 % of the heartbeat timeout). */
export const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Heartbeats for as long as the activity runs, so that a worker that dies mid-call is noticed after the
 * short heartbeat timeout rather than after the step's whole start-to-close timeout. Not at once: the heartbeat
 * timeout runs from the start anyway, and most calls end before the first beat is due (a server write saved).
 * A local activity (a payment run's steps) has no heartbeat: its workflow task's timeout plays that part.
 */
function heartbeating<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    let ctx: Context | undefined;
    try {
      ctx = Context.current();
    } catch {
      return fn(...args); // called directly (unit tests)
    }
    if (ctx.info.isLocal) return fn(...args);
    const beat = ctx;
    const timer = setInterval(() => beat.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
}

function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, heartbeating(fn as never)])) as T;
}

export function createActivities(config: Config, clients: ActivityClients = createClients(config)) {
  const paymentModes = buildPaymentModeTable(config.paymentModes);
  const steps = withHeartbeats({
    ...createTempoActivities({
      tempo: clients.tempo,
      defaultDossier: config.tempo.dossier,
      timeZone: config.armado.timeZone,
      paymentModes,
      billSearch: config.armado.billSearch,
      timeouts: stepTimeouts(config),
    }),
    ...createArmadoActivities({ armado: clients.armado, timeZone: config.armado.timeZone }),
    ...createLedgerStepActivities({
      spreadsheetId: config.sheets.spreadsheetId,
      sheetName: config.sheets.sheetName,
      settings: {
        batchWindowMs: config.ledger.batchWindowMs,
        maxBatch: config.ledger.maxBatch,
        rolloverAfterEvents: config.ledger.rolloverAfterEvents,
        maxCarried: config.ledger.maxCarried,
        writeTimeoutMs: stepTimeouts(config).ledgerWriteMs,
      },
    }),
    ...createLedgerWriterActivities({ sheets: clients.sheets, timeZone: config.armado.timeZone }),
  });
  return {
    ...steps,
    // Not wrapped: these heartbeat their own progress, which a bare heartbeat would erase.
    ...createReconcileActivities({
      ...clients,
      spreadsheetId: config.sheets.spreadsheetId,
      sheetName: config.sheets.sheetName,
      summarySheetName: config.reconcile.sheetName,
      defaultDossier: config.tempo.dossier,
      timeZone: config.armado.timeZone,
      paymentModes,
      ratePerSecond: config.reconcile.ratePerSecond,
      fullSweepMs: config.reconcile.fullSweepMs,
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
