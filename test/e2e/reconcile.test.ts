// Reconciliation on a real dev server with the sandboxes: what it finds when triggers never came, what it
// starts (only what is certain), that a second run starts nothing, the summary tab, and the Schedule.
import { ScheduleNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createClients } from '../../src/activities';
import { createReconcileActivities } from '../../src/activities/reconcile';
import { buildPaymentModeTable } from '../../src/domain/payment-modes';
import type { Candidate, Finding, ReconcileSummary } from '../../src/domain/reconciliation';
import { ensureReconcileSchedule, reconcileNow, reconcileScheduleId } from '../../src/operations/reconcile';
import { allPaymentRunsClosed, startE2E, type E2E } from '../helpers/e2e';
import { eventually } from '../helpers/eventually';

let rig: E2E;
beforeAll(async () => {
  rig = await startE2E({ RECONCILE_RATE: '20' });
});
afterAll(async () => rig?.stop());

let nextInvoice = 73000;
/** An invoice of `total` € in Tempo, not yet paid, with one bill in Armado. */
function invoice(total: number): string {
  const id = String(nextInvoice++);
  rig.sandboxes.tempo.addInvoice(id, total);
  rig.sandboxes.armado.addBill(id, total);
  return id;
}
const tempo = (id: string) => rig.sandboxes.tempo.invoice(id)!;
const ledgerRow = (id: string) => rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).find((r) => r[0] === id);
const bill = (id: string) => rig.sandboxes.armado.billsWithReference(id)[0]!;

/** A payment recorded in Tempo with its trigger: the sync runs to its end. */
async function paid(id: string, amount: number, mode: string, date: string): Promise<string> {
  const t = tempo(id);
  t.MontantReglementPartielTotal = (Number(t.MontantReglementPartielTotal) + amount).toFixed(2);
  const started = await rig.start({ invoiceNumber: id, amount, paymentMode: mode, paymentDate: date });
  await started.handle.result();
  return started.workflowId;
}

const finding = (summary: ReconcileSummary, id: string): Finding | undefined => summary.findings.find((f) => f.invoiceNumber === id);

describe('nightly reconciliation', () => {
  // Built once, then reconciled twice (and dry-run before): each test reads what it checks.
  const ids = { settledByHand: '', untriggered: '', partialMissing: '', partialInSync: '', billIdCleared: '', failed: '' };
  let dry: ReconcileSummary;
  let first: ReconcileSummary;
  let second: ReconcileSummary;
  let firstSettlingRun: string;

  beforeAll(async () => {
    // Both payments triggered, but Tempo was marked settled by hand only after the second run read FACTURE.
    ids.settledByHand = invoice(300);
    await paid(ids.settledByHand, 100, 'virement', '2024-03-01T09:00:00+01:00');
    firstSettlingRun = await paid(ids.settledByHand, 200, 'cheque', '2024-03-04T15:30:00+01:00');
    Object.assign(tempo(ids.settledByHand), { RegleeTotale: 'OUI', DateReglementTotal: '20240305' });

    // The second payment's trigger never came: Tempo got 200 € the service never saw.
    ids.untriggered = invoice(300);
    await paid(ids.untriggered, 100, 'virement', '2024-03-01');
    Object.assign(tempo(ids.untriggered), { RegleeTotale: 'OUI', DateReglementTotal: '20240306', MontantReglementPartielTotal: '300.00' });

    // A partial payment without its trigger: Tempo has received more than the service knows.
    ids.partialMissing = invoice(500);
    await paid(ids.partialMissing, 100, 'cb', '2024-03-02');
    tempo(ids.partialMissing).MontantReglementPartielTotal = '250.00';

    // Partially paid and nothing missing: agreement.
    ids.partialInSync = invoice(500);
    await paid(ids.partialInSync, 100, 'cb', '2024-03-02');

    // Fully paid and synced, but a person cleared the ledger's bill id.
    ids.billIdCleared = invoice(80);
    tempo(ids.billIdCleared).RegleeTotale = 'OUI';
    await paid(ids.billIdCleared, 80, 'especes', '2024-03-03');
    const rows = rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId);
    const at = rows.findIndex((r) => r[0] === ids.billIdCleared) + 1;
    rig.sandboxes.google.typeRow(rig.sandboxes.spreadsheetId, 'Paiements', at, [...(rows[at - 1] as string[]).slice(0, 5), '']);

    // The last run failed (Tempo does not know the invoice): not in the ledger at all.
    ids.failed = String(nextInvoice++);
    await rig.start({ invoiceNumber: ids.failed, amount: 10 }).then((s) => s.handle.result().catch(() => undefined));

    await allPaymentRunsClosed(rig.client, rig.taskQueue);
    dry = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: true });
    first = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: false });
    // The sync the first reconciliation started runs to its end before the second looks.
    for (const s of first.started) await rig.client.workflow.getHandle(s.workflowId).result();
    await allPaymentRunsClosed(rig.client, rig.taskQueue);
    second = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: false });
  });

  test('a settlement Tempo got without a trigger is found and synced, with the settling payment', async () => {
    const f = finding(first, ids.settledByHand);
    expect(f).toMatchObject({
      kind: 'settled-in-tempo',
      action: 'sync-started',
      workflowId: expect.stringMatching(new RegExp(`^payment-sync-DEMO-${ids.settledByHand}-reconciled-`)),
    });
    expect(f?.workflowId).not.toBe(firstSettlingRun);
    expect(ledgerRow(ids.settledByHand)?.slice(0, 6)).toEqual([ids.settledByHand, 'Payée', 'cheque', '2024-03-04 15:30', '200', String(bill(ids.settledByHand).id)]);
    expect(bill(ids.settledByHand)).toMatchObject({ paymentType: 1, paymentDate: '2024-03-04T15:30:00.000000' });
    expect(rig.sandboxes.armado.putsFor(ids.settledByHand)).toBe(1);
  });

  test('where the mode or date of a payment is not known, it reports what an operator needs and starts nothing', async () => {
    expect(finding(first, ids.untriggered)).toMatchObject({
      kind: 'settled-in-tempo',
      action: 'operator',
      detail: expect.stringContaining(`a payment of 200.00 €`),
    });
    expect(finding(first, ids.untriggered)?.detail).toContain(`--invoice ${ids.untriggered} --mode MODE --date 2024-03-06 --tempo-status 200 --amount 200.00 --retry-failed`);
    expect(finding(first, ids.partialMissing)).toMatchObject({ kind: 'payment-missing', action: 'operator', detail: expect.stringContaining('150.00 €') });
    expect(finding(first, ids.billIdCleared)).toMatchObject({ kind: 'bill-id-missing', detail: expect.stringContaining(String(bill(ids.billIdCleared).id)) });
    expect(finding(first, ids.failed)).toMatchObject({ kind: 'last-run-failed', action: 'operator', detail: expect.stringContaining('TempoInvoiceNotFound') });
    expect(finding(first, ids.partialInSync)).toBeUndefined();
    expect(rig.sandboxes.armado.putsFor(ids.untriggered) + rig.sandboxes.armado.putsFor(ids.partialMissing)).toBe(0);
    expect(ledgerRow(ids.untriggered)?.[1]).toBe('Partiellement payée');
  });

  test('counts: every candidate checked once, drift by kind, one sync started', () => {
    expect(first).toMatchObject({
      dryRun: false,
      checked: 6,
      inSync: 1,
      syncsStarted: 1,
      drift: { 'settled-in-tempo': 2, 'payment-missing': 1, 'bill-id-missing': 1, 'last-run-failed': 1 },
    });
    expect(first.ledgerRows).toBe(5);
  });

  test('a second reconciliation starts nothing, and what is still drift is reported again', async () => {
    expect(second.syncsStarted).toBe(0);
    expect(finding(second, ids.settledByHand)).toBeUndefined(); // final now: Payée with its bill id
    expect(second.drift).toEqual({ 'settled-in-tempo': 1, 'payment-missing': 1, 'bill-id-missing': 1, 'last-run-failed': 1 });
    const runs: string[] = [];
    for await (const e of rig.client.workflow.list({ query: `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${rig.taskQueue}" AND InvoiceNumber="${ids.settledByHand}"` }))
      runs.push(e.workflowId);
    expect(runs).toHaveLength(3);
  });

  test('a dry run finds the same and changes nothing', () => {
    expect(dry).toMatchObject({ dryRun: true, checked: first.checked, syncsStarted: 1, drift: first.drift });
    expect(finding(dry, ids.settledByHand)?.action).toBe('would-start');
    expect(dry.summaryRow).toBeUndefined();
    expect(finding(dry, ids.settledByHand)?.workflowId).toBe(finding(first, ids.settledByHand)?.workflowId);
  });

  test('each reconciliation writes one row in the summary tab, where the ledger readers look', () => {
    const summary = rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId, 'Rapprochement');
    expect(summary[0]).toEqual(['Date', 'Lignes du registre', 'Vérifiées', 'Écarts', 'Syncs lancées', 'Détail', 'Exécution']);
    // Its own row, where it said; one row per reconciliation (the Schedule's test may add its own).
    const rowOf = (id: string) => summary.findIndex((r) => r[6] === id) + 1;
    expect([rowOf(first.reconciliationId), rowOf(second.reconciliationId)]).toEqual([first.summaryRow, second.summaryRow]);
    expect(new Set(summary.slice(1).map((r) => r[6])).size).toBe(summary.length - 1);
    const mine = summary[rowOf(first.reconciliationId) - 1];
    expect(mine?.slice(1, 5)).toEqual(['5', '6', '5', '1']);
    expect(mine?.[5]).toContain('settled-in-tempo: 2');
  });

  test('--invoice looks at one invoice, even one in its final state', async () => {
    const one = await reconcileNow(rig.client, { taskQueue: rig.taskQueue, dryRun: true, invoice: ids.settledByHand });
    expect(one).toMatchObject({ checked: 1, findings: [{ invoiceNumber: ids.settledByHand, kind: 'in-sync' }] });
  });
});

describe('the Schedule', () => {
  test('created, left alone, updated and removed as RECONCILE_CRON says; it runs the reconciliation', async () => {
    const taskQueue = rig.taskQueue;
    const settings = { cron: '0 3 * * *', timeZone: 'Europe/Paris', taskQueue };
    expect(await ensureReconcileSchedule(rig.client, settings)).toBe('created');
    expect(await ensureReconcileSchedule(rig.client, settings)).toBe('unchanged');
    expect(await ensureReconcileSchedule(rig.client, { ...settings, cron: '30 2 * * 1-5' })).toBe('updated');
    const handle = rig.client.schedule.getHandle(reconcileScheduleId(taskQueue));
    const described = await handle.describe();
    expect(described.spec.timezone).toBe('Europe/Paris');
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcilePaymentsWorkflow', taskQueue });
    expect(described.policies.overlap).toBe('SKIP');

    await handle.trigger();
    let runId: string | undefined;
    await eventually(async () => {
      runId = (await handle.describe()).info.recentActions.at(-1)?.action.workflow.workflowId;
      return runId !== undefined;
    }, 'the triggered reconciliation');
    const result = (await rig.client.workflow.getHandle(runId as string).result()) as ReconcileSummary;
    expect(result.reconciliationId).toBe(runId);

    expect(await ensureReconcileSchedule(rig.client, { ...settings, cron: undefined })).toBe('deleted');
    await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect(await ensureReconcileSchedule(rig.client, { ...settings, cron: undefined })).toBe('off');
  });
});

describe('the inspection activity', () => {
  function activities(ratePerSecond: number) {
    const clients = createClients(rig.config);
    return createReconcileActivities({
      ...clients,
      spreadsheetId: rig.sandboxes.spreadsheetId,
      sheetName: 'Paiements',
      summarySheetName: 'Rapprochement',
      defaultDossier: 'DEMO',
      timeZone: 'Europe/Paris',
      paymentModes: buildPaymentModeTable(),
      ratePerSecond,
      fullSweepMs: 30 * 86_400_000,
    });
  }
  const quiet = new DefaultLogger('ERROR');
  const candidates = (n: number): Candidate[] => Array.from({ length: n }, () => ({ invoiceNumber: invoice(100), reason: 'asked' as const }));

  test('paces its calls to RECONCILE_RATE per API, whatever its concurrency', async () => {
    const list = candidates(8);
    const since = Date.now();
    const env = new MockActivityEnvironment({ taskQueue: rig.taskQueue }, { client: rig.client, logger: quiet });
    const findings: Finding[] = await env.run(activities(5).inspectInvoices, { candidates: list, dryRun: true });
    expect(findings.map((f) => f.invoiceNumber)).toEqual(list.map((c) => c.invoiceNumber));
    const times = rig.sandboxes.tempo.server.arrivals.filter((r) => r.at >= since && r.path.endsWith('/FACTURE')).map((r) => r.at);
    expect(times).toHaveLength(8);
    // 5 per second: 8 calls span 7 intervals of 200 ms; half an interval allowed for the loopback's jitter
    // (4 invoices side by side unpaced would span a few milliseconds).
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(7 * 200 - 100);
  });

  test('a retried attempt resumes after the invoices its last heartbeat reported', async () => {
    const list = candidates(3);
    const done: Finding = { invoiceNumber: list[0]!.invoiceNumber, kind: 'in-sync', action: 'none', detail: 'from the crashed attempt' };
    const since = Date.now();
    const env = new MockActivityEnvironment({ taskQueue: rig.taskQueue, heartbeatDetails: { findings: [done] } }, { client: rig.client, logger: quiet });
    const findings: Finding[] = await env.run(activities(50).inspectInvoices, { candidates: list, dryRun: true });
    expect(findings[0]).toEqual(done);
    expect(findings.slice(1).map((f) => f.invoiceNumber)).toEqual([list[1]!.invoiceNumber, list[2]!.invoiceNumber]);
    const asked = rig.sandboxes.tempo.server.requests.filter((r) => r.at >= since && r.path.endsWith('/FACTURE')).map((r) => new URLSearchParams(r.query).get('ID'));
    expect(asked.sort()).toEqual([list[1]!.invoiceNumber, list[2]!.invoiceNumber].sort());
  });

  test('an API failure fails the attempt for Temporal to retry; a 404 from Tempo is a finding', async () => {
    const [gone, ok] = candidates(2) as [Candidate, Candidate];
    rig.sandboxes.tempo.server.injectFault({ path: '/API/Tempo/FACTURE', status: 503 });
    const env = new MockActivityEnvironment({ taskQueue: rig.taskQueue }, { client: rig.client, logger: quiet });
    await expect(env.run(activities(50).inspectInvoices, { candidates: [ok], dryRun: true })).rejects.toMatchObject({ type: 'ExternalApiUnavailable' });
    const unknown = { invoiceNumber: String(nextInvoice++), reason: 'asked' as const };
    const findings: Finding[] = await env.run(activities(50).inspectInvoices, { candidates: [gone, unknown], dryRun: true });
    expect(findings.map((f) => f.kind)).toEqual(['in-sync', 'tempo-invoice-missing']);
  });
});
