// The backlog an operator watches, sampled from a real server: open runs by what they wait for (a bill not there
// yet, the ledger's answer, an API's retries), the oldest open run's age, the ledger writer's rows and their age.
import { BacklogSampler, type BacklogSample } from '../../src/operations/backlog';
import { statusQuery, SyncOutcomeKey, SyncWaitingForKey } from '../../src/workflows/contract';
import { addInvoice, allPaymentRunsClosed, startE2E, type E2E } from '../helpers/e2e';
import { eventually, readUntil } from '../helpers/eventually';

let rig: E2E;
let sampler: BacklogSampler;
beforeAll(async () => {
  // The ledger's answer is awaited 2 s before the row is queued again (and the run marked as waiting for it).
  rig = await startE2E({ LEDGER_REQUEUE_AFTER: '2s', ARMADO_BILL_RETRY_INTERVAL: '1h' });
  sampler = new BacklogSampler(rig.client, { taskQueue: rig.taskQueue, spreadsheetId: rig.config.sheets.spreadsheetId, sheetName: rig.config.sheets.sheetName });
});
afterAll(async () => rig?.stop());

const sample = () => sampler.sample();

test('open runs counted by what they wait for, the oldest one aged, the ledger backlog seen; all back to zero once they end', async () => {
  const empty = await sample();
  expect(empty.openPayments).toEqual({ none: 0, bill: 0, ledger: 0, 'api-retry': 0 });
  expect(empty.oldestOpenPaymentAgeSeconds).toBe(0);

  // 1. A bill not in Armado yet: the run waits for it (and writes its ledger row meanwhile).
  const noBill = addInvoice(rig.sandboxes, '95001', { bills: 0 });
  const waitsForBill = await rig.start({ invoiceNumber: noBill, amount: 100 });
  await eventually(async () => (await waitsForBill.handle.query(statusQuery)).steps.findArmadoBill.state === 'waiting', 'the run to wait for its bill');
  await eventually(async () => (await waitsForBill.handle.query(statusQuery)).steps.updatePaymentSheet.state === 'done', 'its ledger row');

  // 2. Tempo failing for one invoice: past the local attempts, the step goes on as a remote activity and says so.
  const flaky = addInvoice(rig.sandboxes, '95002');
  rig.sandboxes.tempo.server.injectFault({ method: 'GET', path: '/API/Tempo/FACTURE', query: `ID=${flaky}`, status: 503, times: 1_000 });
  const retrying = await rig.start({ invoiceNumber: flaky, amount: 100 });
  const retryStatus = await readUntil(
    () => retrying.handle.query(statusQuery),
    (s) => s.steps.checkInvoiceFullyPaid.state === 'waiting',
    30_000,
  );
  expect(retryStatus.steps.checkInvoiceFullyPaid).toMatchObject({ state: 'waiting', detail: expect.stringContaining('Temporal retries it') });

  // 3. Google Sheets down: the row waits in the writer, the run queues it again and waits for the ledger.
  rig.sandboxes.google.server.injectFault({ path: '/v4/spreadsheets', status: 503, times: 100_000 });
  const ledgerDown = addInvoice(rig.sandboxes, '95003');
  const waitsForLedger = await rig.start({ invoiceNumber: ledgerDown, amount: 100 });
  await eventually(async () => (await waitsForLedger.handle.query(statusQuery)).steps.updatePaymentSheet.state === 'waiting', 'the run to wait for the ledger');

  const seen: BacklogSample = await readUntil(
    sample,
    (s) => s.openPayments.bill === 1 && s.openPayments['api-retry'] === 1 && s.openPayments.ledger === 1 && (s.ledger?.oldestQueuedAgeSeconds ?? 0) >= 1,
    30_000,
  );
  expect(seen.openPayments.none).toBe(0);
  expect(seen.ledger?.backlogRows).toBe(1);
  const firstStarted = (await waitsForBill.handle.describe()).startTime.getTime();
  const age = (Date.now() - firstStarted) / 1000;
  // Found by bisection on start times: within 2 % (or a second) below the truth, never above it.
  expect(seen.oldestOpenPaymentAgeSeconds).toBeLessThanOrEqual(Math.ceil(age));
  expect(seen.oldestOpenPaymentAgeSeconds).toBeGreaterThanOrEqual(Math.floor(age * 0.98) - 3);
  expect(seen.visibilityCalls).toBeLessThan(40);

  // Everything comes back: Sheets and Tempo answer, the bill appears.
  rig.sandboxes.google.server.clearFaults();
  rig.sandboxes.tempo.server.clearFaults();
  rig.sandboxes.armado.addBill(noBill);
  await rig.client.workflow.getHandle(waitsForBill.workflowId).signal('retryArmadoNow');
  await Promise.all([waitsForBill, retrying, waitsForLedger].map((r) => r.handle.result()));
  await allPaymentRunsClosed(rig.client, rig.taskQueue);
  const after = await readUntil(sample, (s) => s.ledger?.backlogRows === 0 && s.openPayments.none === 0, 30_000);
  expect(after.openPayments).toEqual({ none: 0, bill: 0, ledger: 0, 'api-retry': 0 });
  expect(after.oldestOpenPaymentAgeSeconds).toBe(0);
  expect(after.ledger?.oldestQueuedAgeSeconds).toBe(0);
  // A closed run waits for nothing: the attribute went with the outcome (a query for SyncWaitingFor="bill" finds none).
  for (const r of [waitsForBill, retrying, waitsForLedger]) expect((await r.handle.describe()).typedSearchAttributes.get(SyncWaitingForKey)).toBeUndefined();
}, 120_000);

test('a settled payment that never waits writes no SyncWaitingFor and no patch marker (its history stays as short)', async () => {
  const id = addInvoice(rig.sandboxes, '95010');
  const run = await rig.start({ invoiceNumber: id, amount: 100 });
  await run.handle.result();
  const events = (await run.handle.fetchHistory()).events ?? [];
  const upserted = events.flatMap((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}));
  expect(upserted).toContain('SyncOutcome');
  expect(upserted).not.toContain('SyncWaitingFor');
  // The one patch marker is the version's own (local-steps), not the waiting marker's.
  expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toHaveLength(1);
});

test('a run that fails while it waits does not stay listed as waiting: SyncWaitingFor goes with the outcome', async () => {
  const id = addInvoice(rig.sandboxes, '95020', { bills: 0 });
  const run = await rig.start({ invoiceNumber: id, amount: 100 });
  await eventually(async () => (await run.handle.describe()).typedSearchAttributes.get(SyncWaitingForKey) === 'bill', 'the run marked as waiting for its bill');
  const goodKey = rig.sandboxes.armado.apiKey;
  rig.sandboxes.armado.apiKey = 'rotated-meanwhile';
  try {
    await run.handle.signal('retryArmadoNow');
    await expect(run.handle.result()).rejects.toThrow();
  } finally {
    rig.sandboxes.armado.apiKey = goodKey;
  }
  const attributes = (await run.handle.describe()).typedSearchAttributes;
  expect(attributes.get(SyncOutcomeKey)).toBe('failed');
  expect(attributes.get(SyncWaitingForKey)).toBeUndefined();
});
