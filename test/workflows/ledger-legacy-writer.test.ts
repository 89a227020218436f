// The first ledger protocol (task tokens) once shared its signal's name with the current one. Its entries are
// now sent under a name of their own; a writer of that protocol still takes the old name, which its history carries.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import type { LedgerRow } from '../../src/domain/shapes';
import {
  legacyEnqueueLedgerRowByOldNameSignal,
  legacyEnqueueLedgerRowSignal,
  ledgerStatusQuery,
  type LegacyLedgerCompletion,
  type LegacyLedgerWorkflowInput,
} from '../../src/workflows/ledger-protocol';
import { eventually } from '../helpers/eventually';
import { startTimeSkipping } from '../helpers/time-skipping';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
});
afterAll(async () => env?.teardown());

const row = (invoiceNumber: string): LedgerRow => ({
  invoiceNumber,
  status: 'Payée',
  paymentMode: 'virement',
  paymentDate: '2024-01-15',
  workflowId: `payment-sync-D1-${invoiceNumber}`,
});

test('the two protocols answer to different names; an old writer takes its entries under both', () => {
  expect(legacyEnqueueLedgerRowSignal.name).not.toBe('enqueueLedgerRow');
  expect(legacyEnqueueLedgerRowByOldNameSignal.name).toBe('enqueueLedgerRow');
});

test('a writer of the first protocol writes and completes the entries sent under its new name and under the old one', async () => {
  const written: string[] = [];
  const completed: LegacyLedgerCompletion[] = [];
  const activities: Partial<Activities> = {
    writeLedgerRows: async ({ rows }) => {
      written.push(...rows.map((r) => r.invoiceNumber));
      return Object.fromEntries(rows.map((r, i) => [r.invoiceNumber, { status: 'appended' as const, row: i + 2 }]));
    },
    completeLedgerRows: async ({ completions }) => {
      completed.push(...completions);
      return { completed: completions.length, stale: 0 };
    },
  };
  const taskQueue = `legacy-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE as string }, activities });
  await worker.runUntil(async () => {
    const input: LegacyLedgerWorkflowInput = { spreadsheetId: 'sheet-1', sheetName: 'Paiements', batchWindowMs: 0, maxBatch: 10, rolloverAfterEvents: 1_000 };
    const handle = await env.client.workflow.start('paymentLedgerWorkflow', { taskQueue, workflowId: `payment-ledger-${randomUUID()}`, args: [input] });
    await handle.signal(legacyEnqueueLedgerRowSignal, { row: row('101'), taskToken: 'dG9rZW4tMQ==' });
    await handle.signal(legacyEnqueueLedgerRowByOldNameSignal, { row: row('102'), taskToken: 'dG9rZW4tMg==' });
    await eventually(async () => (await handle.query(ledgerStatusQuery)).rowsWritten === 2, 'both rows written');
    await handle.terminate('test done');
  });
  expect(written.sort()).toEqual(['101', '102']);
  expect(completed.map((c) => c.taskToken).sort()).toEqual(['dG9rZW4tMQ==', 'dG9rZW4tMg==']);
});
