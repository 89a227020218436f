// The ledger writer on a real dev server with the real worker: what it accepts at its door, what it keeps
// out of histories, whose settings it follows, and what it does for runs that stopped waiting.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { createPaymentWorker } from '../../src/worker';
import {
  enqueueLedgerRowSignal,
  LEDGER_BACKLOG_MEMO,
  LEDGER_WRITER_PRIORITY,
  ledgerStatusQuery,
  ledgerWriterId,
  type LedgerBacklogMemo,
  type LedgerRequest,
} from '../../src/workflows/ledger-protocol';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';
import { eventually, within } from '../helpers/eventually';
import { localStepRecords, signalsNamed } from '../helpers/history';

let rig: E2E;
beforeAll(async () => {
  rig = await startE2E({ LEDGER_REQUEUE_AFTER: '5s' });
});
afterAll(async () => rig?.stop());

let next = 81000;
const invoice = (fullyPaid = false) => addInvoice(rig.sandboxes, String(next++), { fullyPaid });
const rowsOf = (id: string, tab = 'Paiements') => rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId, tab).filter((r) => r[0] === id);
const writer = (tab = 'Paiements') => rig.client.workflow.getHandle(ledgerWriterId(rig.sandboxes.spreadsheetId, tab, rig.taskQueue));

test('malformed signals are dropped at the door; the writer keeps serving every run', async () => {
  await (await rig.start({ invoiceNumber: invoice() })).handle.result(); // the writer exists
  for (const junk of [null, {}, { row: null }, 'text', { requestId: 'x', row: { invoiceNumber: '1' }, replyTo: {}, settings: {} }]) {
    await writer().signal(enqueueLedgerRowSignal, junk as never);
  }
  const id = invoice();
  await within((await rig.start({ invoiceNumber: id })).handle.result(), 30_000, 'a payment after the malformed signals');
  expect(rowsOf(id)).toHaveLength(1);
  expect(await writer().query(ledgerStatusQuery)).toMatchObject({ rejectedSignals: 5 });
  expect((await writer().describe()).status.name).toBe('RUNNING');
});

test("a burst's rows reach the writer in a few signals, every row once, and the writer publishes its backlog for the runs", async () => {
  const ids = Array.from({ length: 40 }, () => invoice());
  const runs = await Promise.all(ids.map((id) => rig.start({ invoiceNumber: id })));
  await within(Promise.all(runs.map((r) => r.handle.result())), 60_000, 'the burst');
  for (const id of ids) expect(rowsOf(id)).toHaveLength(1);

  const ours = new Set(runs.map((r) => r.workflowId));
  const events = (await writer().fetchHistory()).events ?? [];
  const decode = (e: (typeof events)[number]) => JSON.parse(Buffer.from(e.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]?.data ?? []).toString()) as unknown;
  const batches = signalsNamed(events, 'enqueueLedgerRows')
    .map((e) => (decode(e) as { requests: LedgerRequest[] }).requests.filter((r) => ours.has(r.replyTo.workflowId)))
    .filter((requests) => requests.length > 0);
  const single = signalsNamed(events, 'enqueueLedgerRow').filter((e) => ours.has((decode(e) as LedgerRequest | null)?.replyTo?.workflowId ?? ''));
  expect(single).toEqual([]);
  expect(
    batches
      .flat()
      .map((r) => r.replyTo.workflowId)
      .sort(),
  ).toEqual([...ours].sort()); // each run's row queued once
  expect(batches.length).toBeLessThan(ours.size / 2);
  process.stdout.write(`ledger requests: ${ours.size} runs' rows in ${batches.length} signals\n`);

  const description = await writer().describe();
  // Its tasks go before the runs' in their shared queue: every run's answer waits on it.
  expect(description.raw.workflowExecutionInfo?.priority?.priorityKey).toBe(LEDGER_WRITER_PRIORITY.priorityKey);
  const memo = description.memo?.[LEDGER_BACKLOG_MEMO] as LedgerBacklogMemo;
  expect(memo).toEqual({ rows: expect.any(Number), rowsPerSecond: null, at: expect.any(Number) }); // no full batch yet (200 rows)
  expect(Date.now() - memo.at).toBeLessThan(60_000);
}, 120_000);

test("no history holds a task token or anything else that completes another run's step", async () => {
  const id = invoice(true);
  const { handle } = await rig.start({ invoiceNumber: id });
  await handle.result();
  for (const h of [handle, writer()]) {
    const text = JSON.stringify(historyToJSON(await h.fetchHistory()));
    expect(text).not.toMatch(/taskToken/i);
  }
  // The payment step itself completed (it only queues); the answer came by signal.
  const events = (await handle.fetchHistory()).events ?? [];
  expect(localStepRecords(events, 'updatePaymentSheet')).toEqual([expect.objectContaining({ failed: false })]);
  expect(signalsNamed(events, 'ledgerRowWritten')).toHaveLength(1);
});

test('terminated and cancelled runs write nothing afterwards, even when their row was already queued', async () => {
  const { google } = rig.sandboxes;
  google.server.injectFault({ path: '/v4/spreadsheets', status: 503, times: 1_000 });
  const ids = [invoice(), invoice()];
  const runs = await Promise.all(ids.map((id) => rig.start({ invoiceNumber: id })));
  await eventually(async () => (await writer().query(ledgerStatusQuery)).pending + (await writer().query(ledgerStatusQuery)).failedWrites >= 1, 'rows queued while Sheets fails');
  await runs[0]!.handle.terminate('operator: wrong payment');
  await runs[1]!.handle.cancel();
  google.server.clearFaults();
  const later = invoice();
  await within((await rig.start({ invoiceNumber: later })).handle.result(), 120_000, 'a payment after Sheets came back');
  expect(rowsOf(later)).toHaveLength(1);
  expect(rowsOf(ids[0]!)).toEqual([]);
  expect(rowsOf(ids[1]!)).toEqual([]);
}, 180_000);

test('settings follow the deployment: a new tab gets its own writer; batch settings come from the current worker', async () => {
  const { google, spreadsheetId } = rig.sandboxes;
  google.addTab(spreadsheetId, 'Paiements 2027');
  const address = process.env.TEST_TEMPORAL_ADDRESS as string;
  const connection = await NativeConnection.connect({ address });
  const queue = `${rig.taskQueue}-2027`;
  const base = { ...rig.sandboxes.env, TEMPORAL_ADDRESS: address, GOOGLE_SHEETS_SHEET_NAME: 'Paiements 2027', ARMADO_TIMEOUT: '2', TEMPO_TIMEOUT: '2', GOOGLE_SHEETS_TIMEOUT: '2' };
  const newYear = rig.client.workflow.getHandle(ledgerWriterId(spreadsheetId, 'Paiements 2027', queue));
  /** Three payments at once through a worker of this configuration. */
  const threePayments = async (env: Record<string, string>, expected: { rowsWritten: number; batchesWritten: number }) => {
    const worker: Worker = await createPaymentWorker({
      config: loadConfig({ ...base, ...env }),
      connection,
      taskQueue: queue,
      workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE as string },
    });
    await worker.runUntil(async () => {
      const ids = [invoice(), invoice(), invoice()];
      const input = (id: string) => ({ invoiceNumber: id, paymentMode: 'cb', paymentDate: '2027-01-05', tempoStatus: 200 });
      const handles = await Promise.all(ids.map((id) => rig.client.workflow.start('paymentSyncWorkflow', { taskQueue: queue, workflowId: `tab-${id}`, args: [input(id)] })));
      await Promise.all(handles.map((h) => h.result()));
      for (const id of ids) {
        expect(rowsOf(id, 'Paiements 2027')).toHaveLength(1);
        expect(rowsOf(id)).toEqual([]);
      }
      expect(await newYear.query(ledgerStatusQuery)).toMatchObject(expected);
    });
  };
  await threePayments({ LEDGER_BATCH_WINDOW: '1ms', LEDGER_MAX_BATCH: '1' }, { rowsWritten: 3, batchesWritten: 3 });
  // Redeployed with other batch settings: the running writer follows them (one batch for the three).
  await threePayments({ LEDGER_BATCH_WINDOW: '1s', LEDGER_MAX_BATCH: '10' }, { rowsWritten: 6, batchesWritten: 4 });
  await connection.close();
});
