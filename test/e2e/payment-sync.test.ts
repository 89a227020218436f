// The real worker on a real dev server against the sandboxes: every row of DESIGN §6 and the idempotency cases.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { PaymentInputError } from '../../src/client/payment-sync-client';
import { retryArmadoNowSignal, statusQuery } from '../../src/workflows/contract';
import { enqueueLedgerRowSignal, enqueueLedgerRowsSignal, ledgerWriterId, type LedgerRequest, type LedgerRequestBatch } from '../../src/workflows/ledger-protocol';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';
import { expectFailure } from '../helpers/failures';
import { eventually } from '../helpers/eventually';

let rig: E2E;
beforeAll(async () => {
  rig = await startE2E({ PAYMENT_MODE_MAP: '{"lcr": 12}' });
});
afterAll(async () => rig?.stop());

let nextInvoice = 30000;
/** A fresh invoice known to Tempo (fully paid unless told) with, unless told, one bill in Armado. */
function invoice(options: { fullyPaid?: boolean; bills?: number } = {}): string {
  return addInvoice(rig.sandboxes, String(nextInvoice++), options);
}

const rows = () => rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId);
const rowOf = (id: string) => rows().filter((r) => r[0] === id);

/** Starts the workflow by name with raw input, as another SDK or a careless caller would. */
const startRaw = (id: string, input: Record<string, unknown>) =>
  rig.client.workflow.start('paymentSyncWorkflow', { taskQueue: rig.taskQueue, workflowId: `raw-${id}-${Date.now()}`, args: [input] });

test('fully paid: one ledger row, Armado marked paid with the Paris wall-clock date', async () => {
  const id = invoice();
  const { handle } = await rig.start({ invoiceNumber: id, paymentMode: 'Chèque', paymentDate: '2024-07-01T08:00:00Z', amount: 100 });
  const result = await handle.result();
  const [bill] = rig.sandboxes.armado.billsWithReference(id);
  expect(result).toEqual({
    invoiceNumber: id,
    fullyPaid: true,
    outcome: 'synced',
    sheet: { status: 'appended', row: expect.any(Number) },
    armado: { status: 'updated', billId: String(bill!.id), paymentType: 1, paymentDate: '2024-07-01T10:00:00.000000' },
  });
  expect(rowOf(id)).toEqual([[id, 'Payée', 'cheque', '2024-07-01 10:00', '100', String(bill!.id), expect.any(String), handle.workflowId]]);
  expect(rows()[0]).toEqual(['Facture', 'Statut', 'Mode', 'Date paiement', 'Montant', 'Bill Armado', 'Mis à jour', 'Workflow']);
});

test('search attributes and memo: set once at the start by the client, written by the run only when it was started without them', async () => {
  const upserts = (events: { upsertWorkflowSearchAttributesEventAttributes?: unknown; workflowPropertiesModifiedEventAttributes?: unknown }[]) => ({
    attributes: events
      .filter((e) => e.upsertWorkflowSearchAttributesEventAttributes)
      .map((e) => Object.keys((e.upsertWorkflowSearchAttributesEventAttributes as { searchAttributes: { indexedFields: object } }).searchAttributes.indexedFields)),
    memos: events.filter((e) => e.workflowPropertiesModifiedEventAttributes).length,
  });
  const viaClient = await rig.start({ invoiceNumber: invoice() });
  await viaClient.handle.result();
  // The patch's own marker attribute, then the outcome at the end: InvoiceNumber and PaymentMode came with the start.
  expect(upserts((await viaClient.handle.fetchHistory()).events ?? [])).toEqual({ attributes: [['TemporalChangeVersion'], ['SyncOutcome']], memos: 1 });

  const id = invoice();
  const byHand = await startRaw(id, { invoiceNumber: id, paymentMode: 'virement', paymentDate: '2024-01-15', tempoStatus: 200 });
  await byHand.result();
  expect(upserts((await byHand.fetchHistory()).events ?? []).memos).toBe(2);
  const found: { workflowId: string; memo?: Record<string, unknown> }[] = [];
  await eventually(async () => {
    found.length = 0;
    for await (const w of rig.client.workflow.list({ query: `InvoiceNumber = "${id}" AND SyncOutcome = "synced"` })) found.push(w);
    return found.length === 1;
  }, 'the run started by hand found by its invoice number');
  expect(found[0]).toMatchObject({ workflowId: byHand.workflowId, memo: { summary: expect.stringContaining('fully paid') } });
});

test('a duplicate start returns the first run: one workflow, one Armado PUT', async () => {
  const id = invoice();
  const first = await rig.start({ invoiceNumber: id });
  const second = await rig.start({ invoiceNumber: id });
  expect(second).toMatchObject({ workflowId: first.workflowId, runId: first.runId, duplicate: true });
  await first.handle.result();
  const third = await rig.start({ invoiceNumber: id }); // after it closed
  expect(third).toMatchObject({ runId: first.runId, duplicate: true });
  await expect(third.handle.result()).resolves.toMatchObject({ outcome: 'synced' });
  expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
  expect(rowOf(id)).toHaveLength(1);
});

test('partial then full payment of one invoice: one ledger row whose status moves to Payée', async () => {
  const id = invoice({ fullyPaid: false });
  const partial = await rig.start({ invoiceNumber: id, paymentId: 'p1', amount: 40 });
  await expect(partial.handle.result()).resolves.toMatchObject({ outcome: 'partially-paid', armado: { status: 'skipped-partial' }, sheet: { status: 'appended' } });
  expect(rowOf(id)).toEqual([[id, 'Partiellement payée', 'virement', '2024-01-15 10:30', '40', '', expect.any(String), partial.workflowId]]);
  expect(rig.sandboxes.armado.putsFor(id)).toBe(0);

  rig.sandboxes.tempo.invoice(id)!.RegleeTotale = 'OUI';
  const full = await rig.start({ invoiceNumber: id, paymentId: 'p2', amount: 60, paymentDate: '2024-01-20T09:00:00+01:00' });
  await expect(full.handle.result()).resolves.toMatchObject({ outcome: 'synced', sheet: { status: 'updated' } });
  expect(rowOf(id)).toEqual([[id, 'Payée', 'virement', '2024-01-20 09:00', '60', expect.any(String), expect.any(String), full.workflowId]]);
  expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
});

test('TempoUpdateNotConfirmed: nothing is read or written anywhere', async () => {
  const id = invoice();
  const before = { tempo: rig.sandboxes.tempo.server.requests.length, puts: rig.sandboxes.armado.puts.length, rows: rows().length };
  const { handle } = await rig.start({ invoiceNumber: id, tempoStatus: 503 });
  const f = await expectFailure(handle.result(), 'TempoUpdateNotConfirmed');
  expect(f.message).toContain(`invoice ${id}`);
  expect({ tempo: rig.sandboxes.tempo.server.requests.length, puts: rig.sandboxes.armado.puts.length, rows: rows().length }).toEqual(before);
});

test('InvalidPaymentInput: refused by the client before any start, and by the workflow itself', async () => {
  await expect(rig.start({ invoiceNumber: 'INV-1' })).rejects.toThrow(PaymentInputError);
  const handle = await startRaw('bad', { invoiceNumber: '1', paymentMode: 'virement', paymentDate: '2024-02-30', tempoStatus: 200 });
  expect((await expectFailure(handle.result(), 'InvalidPaymentInput')).message).toContain('paymentDate');
});

test('UnknownPaymentMode lists the accepted modes', async () => {
  const id = invoice();
  const handle = await startRaw(id, { invoiceNumber: id, paymentMode: 'bitcoin', paymentDate: '2024-01-15', tempoStatus: 200 });
  expect((await expectFailure(handle.result(), 'UnknownPaymentMode')).message).toMatch(/accepted modes: .*lcr.*virement/);
  expect(rowOf(id)).toHaveLength(0);
});

test('TempoInvoiceNotFound', async () => {
  const { handle } = await rig.start({ invoiceNumber: '99999999' });
  await expectFailure(handle.result(), 'TempoInvoiceNotFound');
});

test('TempoAuthFailed', async () => {
  const id = invoice();
  const { credentials } = rig.sandboxes.tempo;
  const saved = credentials.password;
  credentials.password = 'rotated';
  try {
    const { handle } = await rig.start({ invoiceNumber: id });
    expect((await expectFailure(handle.result(), 'TempoAuthFailed')).message).not.toContain(saved);
  } finally {
    credentials.password = saved;
  }
});

test('ArmadoAuthFailed fails the run, yet the ledger row is written', async () => {
  const id = invoice();
  const saved = rig.sandboxes.armado.apiKey;
  rig.sandboxes.armado.apiKey = 'rotated';
  try {
    const { handle } = await rig.start({ invoiceNumber: id });
    const f = await expectFailure(handle.result(), 'ArmadoAuthFailed');
    expect(f.message).toMatch(/findArmadoBill failed/);
    expect(f.message).not.toContain(saved);
    expect(rowOf(id)).toHaveLength(1);
  } finally {
    rig.sandboxes.armado.apiKey = saved;
  }
});

test('SheetsAuthFailed fails the run, yet Armado is updated', async () => {
  const id = invoice();
  rig.sandboxes.google.setShared(rig.sandboxes.spreadsheetId, false);
  try {
    const { handle } = await rig.start({ invoiceNumber: id });
    expect((await expectFailure(handle.result(), 'SheetsAuthFailed')).message).toMatch(/updatePaymentSheet failed/);
    expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
  } finally {
    rig.sandboxes.google.setShared(rig.sandboxes.spreadsheetId, true);
  }
});

test("ArmadoValidationFailed keeps Armado's message", async () => {
  const id = invoice();
  const { handle } = await rig.start({ invoiceNumber: id, paymentMode: 'LCR' }); // configured as type 12, which Armado refuses
  expect((await expectFailure(handle.result(), 'ArmadoValidationFailed')).message).toContain('paymentType must be an integer from 1 to 8');
});

test('ArmadoBillAmbiguous: two exact matches, never a guess', async () => {
  const id = invoice({ bills: 2 });
  const { handle } = await rig.start({ invoiceNumber: id });
  await expectFailure(handle.result(), 'ArmadoBillAmbiguous');
  expect(rig.sandboxes.armado.putsFor(id)).toBe(0);
});

test('ArmadoBillNotFound waits; a near match does not count; retryArmadoNow looks again at once', async () => {
  const id = invoice({ bills: 0 });
  rig.sandboxes.armado.addBill(`${id}0`); // near match returned by the search
  const { handle } = await rig.start({ invoiceNumber: id });
  await eventually(async () => (await handle.query(statusQuery)).steps.findArmadoBill.state === 'waiting', 'the run to wait for its bill', 10_000);
  expect((await handle.query(statusQuery)).steps.findArmadoBill).toMatchObject({ state: 'waiting' });
  rig.sandboxes.armado.addBill(id);
  await handle.signal(retryArmadoNowSignal);
  await expect(handle.result()).resolves.toMatchObject({ outcome: 'synced' });
  expect(rig.sandboxes.armado.putsFor(`${id}0`)).toBe(0);
});

test('transient failures are retried: Tempo 429 honours Retry-After, Armado 503 twice, an Armado search that hangs', async () => {
  const id = invoice();
  rig.sandboxes.tempo.server.injectFault({ method: 'GET', path: '/API/Tempo/FACTURE', status: 429, retryAfter: 2 });
  rig.sandboxes.armado.server.injectFault({ method: 'PUT', path: '/v1/bill/', status: 503, times: 2 });
  rig.sandboxes.armado.server.injectFault({ method: 'GET', path: '/v1/bill', hang: true });
  const { handle } = await rig.start({ invoiceNumber: id });
  await expect(handle.result()).resolves.toMatchObject({ outcome: 'synced' });
  const factureCalls = rig.sandboxes.tempo.server.requests.filter((r) => r.path.endsWith('/FACTURE')).slice(-2);
  expect(factureCalls.map((r) => r.status)).toEqual([429, 200]);
  expect(factureCalls[1]!.at - factureCalls[0]!.at).toBeGreaterThanOrEqual(1900);
  expect(rig.sandboxes.armado.server.count('GET', '/v1/bill', 'hang')).toBe(1);
  expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
});

test('no secret appears in any history of this run (inputs, results, failures)', async () => {
  const { tempo, armado, google } = rig.sandboxes;
  const privateKeyBody = google.privateKeyForSecretScan
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .slice(0, 3);
  const secrets = [
    tempo.credentials.password,
    Buffer.from(`${tempo.credentials.username}:${tempo.credentials.password}`).toString('base64'),
    armado.apiKey,
    ...google.tokensIssued,
    ...privateKeyBody,
  ];
  expect(google.tokensIssued.length).toBeGreaterThan(0);
  let histories = 0;
  for await (const wf of rig.client.workflow.list({ query: `TaskQueue = "${rig.taskQueue}"` })) {
    const history = await rig.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const text = JSON.stringify(historyToJSON(history));
    for (const secret of secrets) expect(text).not.toContain(secret);
    histories += 1;
  }
  expect(histories).toBeGreaterThan(10);
});

test('a request replayed from the writer history (its run finished) writes nothing: no capability is stored there', async () => {
  const id = invoice({ fullyPaid: false });
  await (await rig.start({ invoiceNumber: id, paymentId: 'stale-1', paymentDate: '2024-01-10' })).handle.result();
  const ledger = rig.client.workflow.getHandle(ledgerWriterId(rig.sandboxes.spreadsheetId, rig.config.sheets.sheetName, rig.taskQueue));
  const signaled = (await ledger.fetchHistory()).events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'enqueueLedgerRows');
  const batch = JSON.parse(Buffer.from(signaled.at(-1)!.workflowExecutionSignaledEventAttributes!.input!.payloads![0]!.data!).toString()) as LedgerRequestBatch;
  const used: LedgerRequest = { ...batch.requests.find((r) => r.row.invoiceNumber === id)!, settings: batch.settings };
  expect(used.row.invoiceNumber).toBe(id);
  const before = rowOf(id);

  // Someone who can read the writer's history sends a request again, with a later date and another status, by either door.
  const forged = { ...used, row: { ...used.row, status: 'Payée' as const, paymentDate: '2030-01-01' } };
  await ledger.signal(enqueueLedgerRowSignal, { ...forged, requestId: 'forged' });
  await ledger.signal(enqueueLedgerRowsSignal, { settings: batch.settings, requests: [{ ...forged, requestId: 'forged-in-a-batch' }] });
  const next = await rig.start({ invoiceNumber: invoice({ fullyPaid: false }), paymentId: 'stale-2' });
  await next.handle.result(); // a later batch has gone through the writer
  expect(rowOf(id)).toEqual(before);
  expect((await ledger.describe()).status.name).toBe('RUNNING');
});
