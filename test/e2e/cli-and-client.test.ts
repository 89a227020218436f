// The TypeScript client API and the `tempo-armado-sync` CLI (the built file, as a real process) on a real
// dev server with the sandboxes: start, status, result, retry-armado, modes, doctor.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { PaymentInputError, PaymentSyncClient } from '../../src/client/payment-sync-client';
import { buildPaymentModeTable } from '../../src/domain/payment-modes';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';
import { eventually } from '../helpers/eventually';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
let rig: E2E;
let api: PaymentSyncClient;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  // A bill missing at first is searched for every hour: only retryArmadoNow makes such a run go on.
  rig = await startE2E({ ARMADO_BILL_RETRY_INTERVAL: '1h', PAYMENT_MODE_MAP: '{"lcr": 9}' });
  api = new PaymentSyncClient(rig.client, { taskQueue: rig.taskQueue, defaultDossier: rig.config.tempo.dossier, paymentModes: buildPaymentModeTable(rig.config.paymentModes) });
  cliEnv = {
    PATH: process.env.PATH as string,
    ...rig.sandboxes.env,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS as string,
    TEMPORAL_TASK_QUEUE: rig.taskQueue,
    PAYMENT_MODE_MAP: '{"lcr": 9}',
  };
});
afterAll(async () => rig?.stop());

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // cwd outside the project: no stray .env is read.
    execFile(process.execPath, [CLI, ...args], { env: { ...cliEnv, ...env }, cwd: '/' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const payment = (invoiceNumber: string, extra: Record<string, unknown> = {}) => ({
  invoiceNumber,
  paymentMode: 'virement',
  paymentDate: '2024-01-15',
  tempoStatus: 200,
  amount: 20,
  ...extra,
});

describe('TypeScript client API', () => {
  test('start, status while waiting for the bill, retryArmadoNow, result; a duplicate returns the first run', async () => {
    const id = addInvoice(rig.sandboxes, '91001', { bills: 0 });
    const started = await api.start(payment(id));
    expect(started).toMatchObject({ duplicate: false, workflowId: expect.stringMatching(/^payment-sync-DEMO-91001-/), runId: expect.any(String) });

    let view = await api.describe(started.workflowId);
    // The row is written first (the bill is not there), then the run waits for its bill.
    const waitsForBill = (v: typeof view) => v?.progress?.steps.findArmadoBill.state === 'waiting' && v.progress.steps.updatePaymentSheet.state === 'done';
    await eventually(async () => waitsForBill((view = await api.describe(started.workflowId))), 'the run to wait for its bill', 10_000);
    expect(view).toMatchObject({
      status: 'RUNNING',
      outcome: 'running',
      invoiceNumber: id,
      progress: { currentStep: 'findArmadoBill', steps: { findArmadoBill: { state: 'waiting' } } },
    });

    rig.sandboxes.armado.addBill(id);
    await api.retryArmadoNow(started.workflowId);
    await expect(api.result(started.workflowId)).resolves.toMatchObject({ outcome: 'synced', armado: { status: 'updated' } });
    expect(await api.describe(started.workflowId)).toMatchObject({ status: 'COMPLETED', outcome: 'synced', result: { outcome: 'synced' } });

    const again = await api.start(payment(id));
    expect(again).toMatchObject({ duplicate: true, workflowId: started.workflowId, runId: started.runId });
    expect((await api.findByInvoice(id)).map((r) => r.workflowId)).toEqual([started.workflowId]);
    expect(rig.sandboxes.armado.putsFor(id)).toBe(1);
  });

  test('a failed run reads as its failure type and message; an unknown id as undefined', async () => {
    const { workflowId } = await api.start(payment('91002')); // unknown to Tempo
    await api.result(workflowId).catch(() => undefined);
    expect(await api.describe(workflowId)).toMatchObject({
      status: 'FAILED',
      outcome: 'failed',
      failure: { type: 'TempoInvoiceNotFound', message: expect.stringContaining('invoice 91002') },
    });
    expect(await api.describe('payment-sync-DEMO-0-none')).toBeUndefined();
  });

  test('bad input throws PaymentInputError naming the fields and accepted values, and starts nothing', async () => {
    const err = await api.start({ invoiceNumber: '91003', paymentMode: 'troc', paymentDate: '2024-01-15', tempoStatus: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaymentInputError);
    expect((err as PaymentInputError).problems).toEqual([
      { field: 'paymentMode', message: expect.stringContaining('accepted modes: autre, carte, cash, cb, cheque, especes, lcr,') },
    ]);
    const err2 = (await api.start({ invoiceNumber: 91003, paymentDate: 'hier' }).catch((e: unknown) => e)) as PaymentInputError;
    expect(err2.problems.map((p) => p.field).sort()).toEqual(['invoiceNumber', 'paymentDate', 'paymentMode', 'tempoStatus']);
    expect(await api.findByInvoice('91003')).toEqual([]);
  });
});

describe('CLI', () => {
  test('start (twice), status, result', async () => {
    addInvoice(rig.sandboxes, '91101');
    const args = ['start', '--invoice', '91101', '--mode', 'Chèque', '--date', '2024-02-01', '--tempo-status', '200', '--amount', '99.90', '--payment-id', 'cli-1', '--json'];
    const first = await cli(args);
    expect(first.code).toBe(0);
    const started = JSON.parse(first.stdout) as { workflowId: string; runId: string; duplicate: boolean };
    expect(started).toMatchObject({ workflowId: 'payment-sync-DEMO-91101-cli-1', duplicate: false });
    const second = await cli(args);
    expect(JSON.parse(second.stdout)).toEqual({ ...started, duplicate: true, existing: { status: expect.stringMatching(/^(RUNNING|COMPLETED)$/) } });

    const result = await cli(['result', started.workflowId, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ invoiceNumber: '91101', outcome: 'synced', armado: { paymentType: 1, paymentDate: '2024-02-01T00:00:00.000000' } });

    const status = await cli(['status', started.workflowId]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('status   COMPLETED · SyncOutcome synced');
    expect(status.stdout).toContain('summary  Invoice 91101: fully paid (cheque, 2024-02-01, 99.90 €)');
    const byInvoice = await cli(['status', '91101']);
    expect(byInvoice.stdout).toMatch(/^payment-sync-DEMO-91101-cli-1 {2}COMPLETED {2}synced {2}Invoice 91101/);
  });

  test('retry-armado by invoice number; result of a failed run exits 1 with its type', async () => {
    addInvoice(rig.sandboxes, '91102', { bills: 0 });
    const started = JSON.parse((await cli(['start', '--invoice', '91102', '--mode', 'cb', '--date', '2024-02-02', '--tempo-status', '200', '--json'])).stdout) as {
      workflowId: string;
    };
    const handle = rig.client.workflow.getHandle(started.workflowId);
    await eventually(async () => (await api.describe(started.workflowId))?.progress?.steps.findArmadoBill.state === 'waiting', 'the run to wait for its bill', 10_000);
    rig.sandboxes.armado.addBill('91102');
    const retry = await cli(['retry-armado', '91102']);
    expect(retry).toMatchObject({ code: 0, stdout: `retryArmadoNow sent to ${started.workflowId}\n` });
    await expect(handle.result()).resolves.toMatchObject({ outcome: 'synced' });

    const failed = JSON.parse((await cli(['start', '--invoice', '91103', '--mode', 'cb', '--date', '2024-02-02', '--tempo-status', '502', '--json'])).stdout) as {
      workflowId: string;
    };
    const result = await cli(['result', failed.workflowId]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${failed.workflowId} failed: TempoUpdateNotConfirmed: invoice 91103`);
  });

  test('bad flags: exit 2, each field named, nothing started', async () => {
    const bad = await cli(['start', '--invoice', '9x', '--mode', 'virement', '--date', '2024-13-01', '--tempo-status', 'ok']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('InvalidPaymentInput:');
    expect(bad.stderr).toMatch(/invoiceNumber: must be the Tempo invoice number/);
    expect(bad.stderr).toMatch(/paymentDate: must be "YYYY-MM-DD"/);
    expect(bad.stderr).toMatch(/tempoStatus: must be the integer HTTP status/);
    const mode = await cli(['start', '--invoice', '91104', '--mode', 'troc', '--date', '2024-01-01', '--tempo-status', '200']);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain('paymentMode: "troc" is not a known payment mode; accepted modes:');
    expect(await api.findByInvoice('9')).toEqual([]);
    expect(await api.findByInvoice('91104')).toEqual([]);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['start', '--no-such-flag'])).code).toBe(2);
  });

  test('through the npm launcher (what `npm run cli` runs): the command runs and answers', async () => {
    const launched = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [join(PROJECT_ROOT, 'scripts', 'run-built.js'), 'src/cli.js', 'modes', '--json'], { env: { ...cliEnv }, cwd: PROJECT_ROOT }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(launched.code).toBe(0);
    expect(JSON.parse(launched.stdout)).toMatchObject({ cheque: 1, virement: 2 });
  });

  test('modes lists built-in and configured modes with their Armado types', async () => {
    const modes = await cli(['modes', '--json']);
    expect(JSON.parse(modes.stdout)).toMatchObject({ cheque: 1, virement: 2, cb: 3, especes: 4, sepa: 5, paypal: 6, stripe: 7, autre: 8, lcr: 9 });
    expect((await cli(['modes'])).stdout).toMatch(/^lcr +9 {3}\(PAYMENT_MODE_MAP\)$/m);
  });
});

describe('doctor', () => {
  const secrets = () => [
    rig.sandboxes.tempo.credentials.password,
    rig.config.armado.apiKey,
    ...readFileSync(rig.config.sheets.credentialsFile, 'utf8').match(/-----BEGIN PRIVATE KEY-----[^"]+/g)!,
  ];

  test('everything reachable: four OK lines, exit 0', async () => {
    const res = await cli(['doctor']);
    expect(
      res.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(0, 14)),
    ).toEqual(['OK   temporal ', 'OK   tempo    ', 'OK   armado   ', 'OK   sheets   ']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('search attributes InvoiceNumber, PaymentMode, SyncOutcome, SyncWaitingFor registered');
  });

  test('each broken part says what to fix, exit 1, and no secret is printed', async () => {
    rig.sandboxes.google.setShared(rig.sandboxes.spreadsheetId, false);
    try {
      const res = await cli(['doctor', '--json'], { TEMPO_PASSWORD: 'not-the-password', ARMADO_API_KEY: 'an-old-armado-key', TEMPORAL_NAMESPACE: 'no-such-namespace' });
      expect(res.code).toBe(1);
      const checks = JSON.parse(res.stdout) as { name: string; ok: boolean; message: string }[];
      expect(checks).toEqual([
        { name: 'temporal', ok: false, message: expect.stringContaining('namespace "no-such-namespace" is not usable') },
        { name: 'tempo', ok: false, message: expect.stringContaining('fix TEMPO_USERNAME / TEMPO_PASSWORD') },
        { name: 'armado', ok: false, message: expect.stringContaining('fix ARMADO_API_KEY') },
        { name: 'sheets', ok: false, message: expect.stringContaining('share the spreadsheet with payment-sync@sandbox-project.iam.gserviceaccount.com as Editor') },
      ]);
      for (const secret of [...secrets(), 'not-the-password', 'an-old-armado-key']) expect(res.stdout + res.stderr).not.toContain(secret);
    } finally {
      rig.sandboxes.google.setShared(rig.sandboxes.spreadsheetId, true);
    }
  });

  test('an unreachable Temporal and a bad configuration are reported, not thrown', async () => {
    const down = await cli(['doctor'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^FAIL temporal +cannot reach Temporal at 127\.0\.0\.1:1 .*fix TEMPORAL_ADDRESS and the TLS settings$/m);
    const config = await cli(['doctor'], { ARMADO_BASE_URL: 'http://armado.example.com', ARMADO_API_KEY: '' });
    expect(config.code).toBe(1);
    expect(config.stdout).toContain('ARMADO_BASE_URL: must use https://');
    expect(config.stdout).toContain('ARMADO_API_KEY: must not be empty');
  });
});
