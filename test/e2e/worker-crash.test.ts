// A worker process killed with SIGKILL after the ledger step and before the Armado steps, then restarted:
// the run completes with exactly one ledger row and one Armado PUT.
import { startPaymentSync } from '../../src/client/payment-sync-client';
import { retryArmadoNowSignal, statusQuery } from '../../src/workflows/contract';
import type { PaymentSyncStatus } from '../../src/domain/shapes';
import { killWorkerProcesses, startWorkerProcess, useProcessRig } from '../helpers/worker-process';
import { eventually } from '../helpers/eventually';

const rig = useProcessRig('crash');
// Each test runs its own workers: one left over from an earlier test would take the step the test kills.
afterEach(() => killWorkerProcesses());

test('SIGKILL between the ledger and Armado steps, restart: one ledger row, one Armado PUT', async () => {
  const invoice = '70001';
  rig.sandboxes.tempo.addInvoice(invoice, 250);
  rig.sandboxes.tempo.invoice(invoice)!.RegleeTotale = 'OUI';
  // The bill is missing at first; the run waits an hour unless told to look again.
  const worker = { ARMADO_BILL_RETRY_INTERVAL: '1h' };
  const { child: first } = await startWorkerProcess(rig.sandboxes, rig.taskQueue, worker);
  const { handle } = await startPaymentSync(
    rig.client,
    { invoiceNumber: invoice, paymentMode: 'virement', paymentDate: '2024-03-01', tempoStatus: 200, amount: 250 },
    { taskQueue: rig.taskQueue, defaultDossier: rig.sandboxes.env.TEMPO_DOSSIER as string },
  );

  let status: PaymentSyncStatus | undefined;
  await eventually(
    async () => {
      status = await handle.query(statusQuery);
      return status.steps.updatePaymentSheet.state === 'done' && status.steps.findArmadoBill.state === 'waiting';
    },
    'the ledger row written and the run waiting for its bill',
    60_000,
  );
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  expect(first.signalCode).toBe('SIGKILL');

  // While no worker runs, Armado gets its bill; then a new worker process takes over the run.
  rig.sandboxes.armado.addBill(invoice);
  const ledgerWritesBefore = rig.sandboxes.google.server.count('POST', `/v4/spreadsheets/${rig.sandboxes.spreadsheetId}/values:batchUpdate`);
  await startWorkerProcess(rig.sandboxes, rig.taskQueue, worker);
  await handle.signal(retryArmadoNowSignal);
  const result = await handle.result();

  expect(result).toMatchObject({ outcome: 'synced', sheet: { status: 'appended' }, armado: { status: 'updated' } });
  expect(rig.sandboxes.armado.putsFor(invoice)).toBe(1);
  const rows = rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).filter((r) => r[0] === invoice);
  expect(rows).toHaveLength(1);
  expect(rows[0]![5]).toBe(String(rig.sandboxes.armado.billsWithReference(invoice)[0]!.id));
  // After the restart only the bill id was filled in: the row itself was not written again.
  expect(rig.sandboxes.google.server.count('POST', `/v4/spreadsheets/${rig.sandboxes.spreadsheetId}/values:batchUpdate`) - ledgerWritesBefore).toBe(1);
});

test('SIGKILL while an Armado call is in flight: another worker retries that step within seconds, not minutes', async () => {
  const invoice = '70002';
  rig.sandboxes.tempo.addInvoice(invoice, 90);
  rig.sandboxes.tempo.invoice(invoice)!.RegleeTotale = 'OUI';
  rig.sandboxes.armado.addBill(invoice);
  // The search hangs until the client gives up (ARMADO_TIMEOUT 30 s): the worker dies with it on the wire.
  rig.sandboxes.armado.server.injectFault({ method: 'GET', path: '/v1/bill', hang: true, times: 1 });
  const env = { ARMADO_TIMEOUT: '30' };
  const { child: first } = await startWorkerProcess(rig.sandboxes, rig.taskQueue, env);
  const { handle } = await startPaymentSync(
    rig.client,
    { invoiceNumber: invoice, paymentMode: 'cb', paymentDate: '2024-03-02', tempoStatus: 200 },
    { taskQueue: rig.taskQueue, defaultDossier: rig.sandboxes.env.TEMPO_DOSSIER as string },
  );
  const searches = () => rig.sandboxes.armado.server.arrivals.filter((a) => a.method === 'GET' && a.query.includes(invoice)).length;
  await eventually(async () => searches() === 1, 'the first bill search', 60_000);
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  const killedAt = Date.now();
  await startWorkerProcess(rig.sandboxes, rig.taskQueue, env);
  await eventually(async () => searches() >= 2, 'the search of the worker that took over', 60_000);
  const recoveredInMs = Date.now() - killedAt;
  process.stdout.write(`crash recovery: SIGKILL → next attempt of the in-flight search in ${(recoveredInMs / 1000).toFixed(1)} s\n`);
  // The heartbeat timeout (10 s) notices the dead worker; the start-to-close (35 s here) would take far longer.
  expect(recoveredInMs).toBeLessThan(25_000);
  await expect(handle.result()).resolves.toMatchObject({ outcome: 'synced' });
  expect(rig.sandboxes.armado.putsFor(invoice)).toBe(1);
}, 120_000);
