// The ledger writer through a day-long Google Sheets outage with hundreds of payment runs waiting, on the
// time-skipping server with the real activities (Sheets sandbox over HTTP): the writer's history and its
// continue-as-new input stay bounded, and once Sheets is back every row is written once, none lost.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { loadConfig } from '../../src/config';
import { parsePaymentInput, type PaymentSyncInput } from '../../src/domain/payment-input';
import type { ConfirmedPayment } from '../../src/domain/shapes';
import { startSandboxes, type Sandboxes } from '../../dev/sandbox';
import { InvoiceNumberKey } from '../../src/workflows/contract';
import { ledgerWriterId } from '../../src/workflows/ledger-protocol';
import { startTimeSkipping } from '../helpers/time-skipping';
import { writerFigures } from '../helpers/ledger-writer';

const RUNS = Number(process.env.OUTAGE_RUNS ?? 200);
const OUTAGE_HOURS = Number(process.env.OUTAGE_HOURS ?? 24);
const ROLLOVER = 1_000;
const MAX_CARRIED = 100;

let env: TestWorkflowEnvironment;
let sandboxes: Sandboxes;
beforeAll(async () => {
  env = await startTimeSkipping();
  sandboxes = await startSandboxes({ spreadsheetId: `outage-${randomUUID().slice(0, 8)}` });
});
afterAll(async () => {
  await env?.teardown();
  await sandboxes?.stop();
});

test(`${RUNS} runs waiting through a ${OUTAGE_HOURS} h Sheets outage: bounded writer, then every row written once`, async () => {
  const taskQueue = `outage-${randomUUID()}`;
  const config = loadConfig({
    ...sandboxes.env,
    LEDGER_BATCH_WINDOW: '1s',
    LEDGER_ROLLOVER_EVENTS: String(ROLLOVER),
    LEDGER_MAX_CARRIED: String(MAX_CARRIED),
    GOOGLE_SHEETS_TIMEOUT: '2',
  });
  const real = createActivities(config);
  const confirmed = (invoiceNumber: string): ConfirmedPayment => ({
    invoiceNumber,
    dossier: 'DEMO',
    paymentMode: 'virement',
    paymentType: 2,
    armadoPaymentDate: '2024-01-15T10:30:00.000000',
    ledgerPaymentDate: '2024-01-15 10:30',
    billSearch: { intervalMs: 900_000, giveUpAfterMs: 3 * 86_400_000 },
    // Runs queue their row again every two hours without an answer (a lost reply, the outage).
    timeouts: { tempoCallMs: 15_000, armadoCallMs: 15_000, ledgerWriteMs: 30_000, ledgerRequeueMs: Number(process.env.OUTAGE_REQUEUE_MS ?? 7_200_000) },
  });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE as string },
    maxConcurrentWorkflowTaskExecutions: 50,
    activities: {
      ...real,
      // Tempo is not the subject here: every payment is a partial one, so only the ledger is written.
      // As the real step: it validates the input and returns it with what it settled.
      confirmTempoUpdate: async (raw: PaymentSyncInput) => ({ ...confirmed(raw.invoiceNumber), input: parsePaymentInput(raw) }),
      checkInvoiceFullyPaid: async () => ({ fullyPaid: false }),
    },
  });
  const { google, spreadsheetId } = sandboxes;
  google.server.injectFault({ path: '/v4/', status: 503, times: 1e9 }); // Sheets answers 503 to everything

  await worker.runUntil(async () => {
    const invoices = Array.from({ length: RUNS }, (_, i) => String(900000 + i));
    const handles = await Promise.all(
      invoices.map((invoiceNumber) =>
        // As the client starts them: the invoice number is a search attribute from the start.
        env.client.workflow.start('paymentSyncWorkflow', {
          taskQueue,
          workflowId: `outage-${invoiceNumber}`,
          typedSearchAttributes: [{ key: InvoiceNumberKey, value: invoiceNumber }],
          args: [{ invoiceNumber, paymentMode: 'virement', paymentDate: '2024-01-15T10:30:00+01:00', tempoStatus: 200 }],
        }),
      ),
    );
    // Sheets comes back once the server's (skipped) clock has moved OUTAGE_HOURS on; meanwhile the runs wait.
    const outageEnds = (await env.currentTimeMs()) + OUTAGE_HOURS * 3_600_000;
    let writtenDuringOutage = -1;
    const watcher = setInterval(() => {
      void env.currentTimeMs().then((now) => {
        if (now < outageEnds || writtenDuringOutage >= 0) return;
        writtenDuringOutage = google.rows(spreadsheetId).length;
        google.server.clearFaults();
      });
    }, 100);
    const results = [];
    try {
      // One result at a time: waiting on it lets the test server skip time (concurrent waits confuse its lock).
      for (const h of handles) results.push(await h.result());
    } finally {
      clearInterval(watcher);
    }
    expect(writtenDuringOutage).toBe(0); // nothing could be written during the outage
    expect(results.every((r) => r.outcome === 'partially-paid')).toBe(true);

    const rows = google.rows(spreadsheetId).slice(1);
    expect(rows).toHaveLength(RUNS);
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(invoices));

    const writer = await writerFigures(env.client, ledgerWriterId(spreadsheetId, config.sheets.sheetName, taskQueue));
    process.stdout.write(
      `ledger outage: ${RUNS} waiting runs, ${OUTAGE_HOURS} h: writer ran ${writer.runs} times, longest history ${writer.longestHistory} events, largest input ${(writer.largestInput / 1024).toFixed(1)} KiB, largest payload ${(writer.largestPayload / 1024).toFixed(1)} KiB (≤ ${writer.mostRowsCarried} rows carried), ${google.writeRequests} Sheets write requests after\n`,
    );
    expect(writer.runs).toBeGreaterThan(1); // it rolled over during the outage
    // Past the threshold the writer gives up its batch write in progress and rolls over: its history exceeds the
    // threshold only by the signals that land during that one step (at most one queuing per waiting run),
    // whatever the length of the outage.
    expect(writer.longestHistory).toBeLessThan(ROLLOVER + 2 * RUNS + 100);
    expect(writer.mostRowsCarried).toBeLessThanOrEqual(MAX_CARRIED);
  });
}, 600_000);
