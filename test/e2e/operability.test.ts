// What an operator does in the UI or with the CLI, on a real dev server: find runs by invoice and outcome,
// read the memo and status, reset one run (to the start, or past the ledger step), reset many by query.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { PaymentSyncResult } from '../../src/domain/shapes';
import type { PaymentSyncMemo } from '../../src/domain/run-summary';
import { batchReset, resetRun } from '../../src/operations/reset';
import { PROJECT_ROOT, resolveTemporalCli } from '../../src/temporal/binaries';
import { statusQuery } from '../../src/workflows/contract';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';
import { readUntil } from '../helpers/eventually';
import { localStepRecords, signalsNamed } from '../helpers/history';

const run = promisify(execFile);
const { EventType } = temporal.api.enums.v1;

let rig: E2E;
beforeAll(async () => {
  rig = await startE2E();
});
afterAll(async () => rig?.stop());

let nextInvoice = 60000;
function invoice(options: { fullyPaid?: boolean; bill?: boolean } = {}): string {
  return addInvoice(rig.sandboxes, String(nextInvoice++), { fullyPaid: options.fullyPaid, bills: options.bill === false ? 0 : 1 });
}
const rowsOf = (id: string) => rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).filter((r) => r[0] === id);
/** The row without its "Mis à jour" timestamp, which a rewrite legitimately refreshes. */
const stable = (row: string[] | undefined) => row?.filter((_, i) => i !== 6);

async function list(query: string): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const e of rig.client.workflow.list({ query: `${query} AND TaskQueue="${rig.taskQueue}"` })) found.push(e);
  return found;
}

describe('findable runs', () => {
  let synced: string;
  let failed: string;
  let syncedId: string;
  let failedId: string;
  beforeAll(async () => {
    synced = invoice();
    failed = invoice({ bill: false });
    rig.sandboxes.armado.addBill(failed);
    rig.sandboxes.armado.addBill(failed); // two exact matches: ArmadoBillAmbiguous
    const a = await rig.start({ invoiceNumber: synced, amount: 795.6 });
    const b = await rig.start({ invoiceNumber: failed, paymentMode: 'Chèque' });
    syncedId = a.workflowId;
    failedId = b.workflowId;
    await a.handle.result();
    await b.handle.result().catch(() => undefined);
  });

  test('InvoiceNumber, PaymentMode and SyncOutcome select runs through the SDK', async () => {
    const byInvoice = await readUntil(
      () => list(`InvoiceNumber="${failed}"`),
      (l) => l.length === 1,
    );
    expect(byInvoice.map((e) => e.workflowId)).toEqual([failedId]);
    const failedRuns = await readUntil(
      () => list(`SyncOutcome="failed"`),
      (l) => l.length >= 1,
    );
    expect(failedRuns.map((e) => e.workflowId)).toContain(failedId);
    expect(failedRuns.map((e) => e.workflowId)).not.toContain(syncedId);
    expect((await list(`SyncOutcome="synced" AND PaymentMode="virement"`)).map((e) => e.workflowId)).toContain(syncedId);
    expect((await list(`PaymentMode="cheque" AND SyncOutcome="failed"`)).map((e) => e.workflowId)).toEqual([failedId]);
  });

  test('the same queries work in `temporal workflow list --query`', async () => {
    const cli = resolveTemporalCli();
    if (cli.type !== 'existing-path') throw new Error('the Temporal CLI should have been resolved to a file');
    const query = `InvoiceNumber="${failed}" AND SyncOutcome="failed"`;
    const { stdout } = await run(cli.path, ['workflow', 'list', '--address', process.env.TEST_TEMPORAL_ADDRESS as string, '--query', query, '--output', 'json']);
    const parsed = JSON.parse(stdout) as { execution: { workflowId: string } }[];
    expect(parsed.map((e) => e.execution.workflowId)).toEqual([failedId]);
  });

  test('a one-line memo says what the run did, or why it failed', async () => {
    const ok = await rig.client.workflow.getHandle(syncedId).describe();
    expect((ok.memo as unknown as PaymentSyncMemo).summary).toMatch(
      new RegExp(`^Invoice ${synced}: fully paid \\(virement, 2024-01-15T10:30:00\\+01:00, 795\\.60 €\\); ledger row \\d+ appended; Armado bill \\d+ marked paid$`),
    );
    expect(await ok.staticSummary()).toBe(`Invoice ${synced} · virement · 2024-01-15T10:30:00+01:00 · 795.60 €`);
    const ko = await rig.client.workflow.getHandle(failedId).describe();
    const memo = ko.memo as unknown as PaymentSyncMemo;
    expect(memo).toMatchObject({ failureType: 'ArmadoBillAmbiguous', failedSteps: ['findArmadoBill'] });
    expect(memo.summary).toMatch(new RegExp(`^Invoice ${failed} FAILED: findArmadoBill ArmadoBillAmbiguous: Armado has 2 bills with reference ${failed}`));
    expect(memo.summary.length).toBeLessThanOrEqual(240);
  });

  test("status: the current step and each step's outcome, while waiting and once done", async () => {
    const late = invoice({ bill: false });
    const { handle } = await rig.start({ invoiceNumber: late });
    const waiting = await readUntil(
      () => handle.query(statusQuery),
      (s) => s.steps.findArmadoBill.state === 'waiting' && s.steps.updatePaymentSheet.state === 'done',
    );
    expect(waiting).toMatchObject({
      invoiceNumber: late,
      outcome: 'running',
      currentStep: 'findArmadoBill',
      steps: {
        confirmTempoUpdate: { state: 'done', detail: 'paymentType 2' },
        checkInvoiceFullyPaid: { state: 'done', detail: 'fully paid' },
        updatePaymentSheet: { state: 'done', detail: expect.stringMatching(/^appended row \d+$/) },
        findArmadoBill: { state: 'waiting', detail: expect.stringContaining('retryArmadoNow') },
        updateArmadoBillPayment: { state: 'pending' },
      },
    });
    expect((await handle.describe()).memo).toMatchObject({ summary: `Invoice ${late}: syncing payment virement, 2024-01-15T10:30:00+01:00` });
    await handle.terminate('test over');
    const ko = await rig.client.workflow.getHandle(failedId).query(statusQuery);
    expect(ko).toMatchObject({
      outcome: 'failed',
      currentStep: 'done',
      steps: { updatePaymentSheet: { state: 'done' }, findArmadoBill: { state: 'failed', errorType: 'ArmadoBillAmbiguous' } },
    });
  });
});

describe('reset-safety', () => {
  test('reset to the first workflow task: same ledger row, no second Armado PUT, same result', async () => {
    const id = invoice();
    const { handle, workflowId, runId } = await rig.start({ invoiceNumber: id, amount: 42 });
    const first = await handle.result();
    const rowBefore = rowsOf(id);
    expect(rig.sandboxes.armado.putsFor(id)).toBe(1);

    const newRunId = await resetRun(rig.client, { workflowId, runId, reason: 'test: reset to start' });
    const again = (await rig.client.workflow.getHandle(workflowId, newRunId).result()) as PaymentSyncResult;

    expect(rowsOf(id)).toHaveLength(1);
    expect(stable(rowsOf(id)[0])).toEqual(stable(rowBefore[0]));
    expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
    // Same business result; the two verbs say what this re-run did: the row existed, the bill was already paid.
    expect(again).toEqual({ ...first, sheet: { ...first.sheet, status: 'updated' }, armado: { ...first.armado, status: 'already-up-to-date' } });
    expect(first).toMatchObject({ sheet: { status: 'appended' }, armado: { status: 'updated' } });
  });

  test('reset to just after the ledger step: the Armado update re-runs, and nothing is written twice', async () => {
    const id = invoice();
    rig.sandboxes.armado.server.latencyMs = 1500; // the ledger step completes well before the Armado ones
    try {
      const { handle, workflowId, runId } = await rig.start({ invoiceNumber: id, amount: 43 });
      const first = await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      // The ledger step is done when the writer's answer arrives; the workflow task that takes it runs the Armado step.
      const ledgerDone = signalsNamed(events, 'ledgerRowWritten')[0];
      const resetPoint = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && Number(e.eventId) > Number(ledgerDone?.eventId));
      const [putBefore] = localStepRecords(events, 'updateArmadoBillPayment');
      expect(Number(resetPoint?.eventId)).toBeLessThan(Number(putBefore?.eventId)); // the reset point is before the Armado write

      const newRunId = await resetRun(rig.client, { workflowId, runId, reason: 'test: after ledger', eventId: Number(resetPoint?.eventId) });
      const again = (await rig.client.workflow.getHandle(workflowId, newRunId).result()) as PaymentSyncResult;
      expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
      expect(rowsOf(id)).toHaveLength(1);
      expect(again).toEqual({ ...first, armado: { ...first.armado, status: 'already-up-to-date' } });
      const newEvents = (await rig.client.workflow.getHandle(workflowId, newRunId).fetchHistory()).events ?? [];
      expect(localStepRecords(newEvents, 'updatePaymentSheet')).toHaveLength(1); // the one write (with the bill id) is kept from before the reset point
      expect(localStepRecords(newEvents, 'updateArmadoBillPayment')).toHaveLength(1); // and the Armado step ran again, once
    } finally {
      rig.sandboxes.armado.server.latencyMs = 0;
    }
  });
});

describe('batch reset by visibility query', () => {
  test('dry run lists, the real run resets only the selected failures, a second run resets nothing', async () => {
    const keyFailures = [invoice(), invoice(), invoice()];
    const otherFailure = String(nextInvoice++); // unknown to Tempo: TempoInvoiceNotFound
    const fine = invoice();
    await (await rig.start({ invoiceNumber: fine })).handle.result();
    const goodKey = rig.sandboxes.armado.apiKey;
    rig.sandboxes.armado.apiKey = 'rotated-without-telling-us';
    const started = await Promise.all([...keyFailures, otherFailure].map((id) => rig.start({ invoiceNumber: id })));
    await Promise.all(started.map((s) => s.handle.result().catch(() => undefined)));
    rig.sandboxes.armado.apiKey = goodKey; // the fix: Armado accepts our key again

    const query = `SyncOutcome="failed" AND TaskQueue="${rig.taskQueue}"`;
    await readUntil(
      () => list('SyncOutcome="failed"'),
      (l) => l.length === 4,
    );
    const dry = await batchReset(rig.client, { query, failureType: 'ArmadoAuthFailed', reason: 'test', dryRun: true });
    expect(
      dry
        .filter((e) => e.action === 'would-reset')
        .map((e) => e.invoiceNumber)
        .sort(),
    ).toEqual([...keyFailures].sort());
    expect(dry.find((e) => e.invoiceNumber === otherFailure)).toMatchObject({ action: 'skipped', failureType: 'TempoInvoiceNotFound' });
    for (const id of keyFailures) expect(rig.sandboxes.armado.putsFor(id)).toBe(0);

    // The operator's command, as the README shows it, prints the same plan.
    const script = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
    const env = { ...process.env, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS };
    const cli = await run(process.execPath, [script, 'reset-failed', '--dry-run', '--json', '--query', query, '--failure-type', 'ArmadoAuthFailed'], { env });
    const planned = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { workflowId: string; action: string });
    expect(planned.map((e) => [e.workflowId, e.action]).sort()).toEqual(dry.map((e) => [e.workflowId, e.action]).sort());
    expect(cli.stderr).toContain(`${dry.length} run(s) matched: 3 would be reset, ${dry.length - 3} skipped, 0 error(s)`);

    const done = await batchReset(rig.client, { query, failureType: 'ArmadoAuthFailed', reason: 'Armado key fixed', dryRun: false });
    const resets = done.filter((e) => e.action === 'reset');
    expect(resets).toHaveLength(3);
    const results = (await Promise.all(resets.map((e) => rig.client.workflow.getHandle(e.workflowId, e.newRunId).result()))) as PaymentSyncResult[];
    expect(results.map((r) => r.outcome)).toEqual(['synced', 'synced', 'synced']);
    for (const id of keyFailures) {
      expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
      expect(rowsOf(id)).toHaveLength(1);
      expect(rowsOf(id)[0]![5]).toBe(String(rig.sandboxes.armado.billsWithReference(id)[0]!.id));
    }

    const twice = await batchReset(rig.client, { query, failureType: 'ArmadoAuthFailed', reason: 'again', dryRun: false });
    expect(twice.filter((e) => e.action === 'reset')).toEqual([]);
    expect(twice.filter((e) => e.why?.startsWith('already re-run as'))).toHaveLength(3);
    for (const id of keyFailures) expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
  });
});
