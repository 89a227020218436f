// `tempo-armado-sync backfill FILE` and `reconcile` as an operator runs them: the built CLI as a real process,
// on a real dev server with the sandboxes, killed mid-way and run again.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { addInvoice, startE2E, type E2E } from '../helpers/e2e';
import { eventually, readUntil } from '../helpers/eventually';

const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'backfill-'));
let rig: E2E;
let env: Record<string, string>;

beforeAll(async () => {
  rig = await startE2E();
  env = { PATH: process.env.PATH as string, ...rig.sandboxes.env, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS as string, TEMPORAL_TASK_QUEUE: rig.taskQueue };
});
afterAll(async () => rig?.stop());

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, cwd: '/' }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function runsOn(invoices: string[]): Promise<string[]> {
  const ids: string[] = [];
  const query = `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${rig.taskQueue}" AND (${invoices.map((i) => `InvoiceNumber="${i}"`).join(' OR ')})`;
  for await (const e of rig.client.workflow.list({ query })) ids.push(e.workflowId);
  return ids.sort();
}

const table = (stdout: string) =>
  Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => /^(.+?)\s+(\d+)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1], Number(m[2])]),
  );

test('good, duplicate and bad lines: the bad ones are named by line and field, the good ones start once', async () => {
  const [a, b, c] = ['81001', '81002', '81003'].map((id) => addInvoice(rig.sandboxes, id)) as [string, string, string];
  const csv = file(
    'payments.csv',
    [
      'invoice;mode;date;amount;payment id',
      `${a};virement;2024-02-01;120,50;P-1`,
      `${b};chèque;2024-02-02T10:00:00+01:00;80;P-2`,
      `${a};virement;2024-02-01;120,50;P-1`, // the same payment again
      `${c};troc;2024-02-03;10;P-3`, // unknown mode
      `12x;cb;2024-02-31;-5;P-4`, // three bad fields
      `${c};cb;2024-02-03;10;P-5`,
    ].join('\n'),
  );
  const strict = await cli(['backfill', csv, '--strict']);
  expect(strict.code).toBe(2);
  expect(strict.stderr).toContain('line 5: paymentMode: "troc" is not a known payment mode; accepted modes:');
  expect(strict.stderr).toMatch(/line 6: invoiceNumber: .*paymentDate: .*amount: /);
  expect(strict.stderr).toContain('--strict: nothing started');
  expect(await runsOn([a, b, c])).toEqual([]);

  const first = await cli(['backfill', csv, '--rate', '20']);
  expect(first.code).toBe(1); // some lines were invalid
  expect(table(first.stdout)).toEqual({ started: 3, 'already done': 1, 'failed before': 0, invalid: 2, 'failed to start': 0, 'total lines': 6 });
  expect(await runsOn([a, b, c])).toEqual([`payment-sync-DEMO-${a}-P-1`, `payment-sync-DEMO-${b}-P-2`, `payment-sync-DEMO-${c}-P-5`]);
  await rig.client.workflow.getHandle(`payment-sync-DEMO-${b}-P-2`).result();
  expect(rig.sandboxes.armado.billsWithReference(b)[0]).toMatchObject({ paymentType: 1, paymentDate: '2024-02-02T10:00:00.000000' });

  const again = await cli(['backfill', csv, '--json']);
  expect(JSON.parse(again.stdout)).toMatchObject({ started: 0, alreadyDone: 4, invalid: 2, failedToStart: 0 });
});

test('JSON lines; a backfill killed mid-way and run again finishes the job without a duplicate', async () => {
  const invoices = Array.from({ length: 24 }, (_, i) => addInvoice(rig.sandboxes, String(82000 + i)));
  const jsonl = file(
    'payments.jsonl',
    invoices.map((id, i) => JSON.stringify({ invoiceNumber: id, paymentMode: 'cb', paymentDate: `2024-04-${String(i + 1).padStart(2, '0')}`, amount: 10 + i })).join('\n') + '\n',
  );

  // 4 starts per second: killed after the first few, well before the end.
  const child = spawn(process.execPath, [CLI, 'backfill', jsonl, '--rate', '4'], { env, cwd: '/', stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await eventually(async () => (await runsOn(invoices)).length >= 3, 'the first starts of the backfill', 30_000);
  child.kill('SIGKILL');
  await exited;
  const before = (await runsOn(invoices)).length;
  expect(before).toBeLessThan(invoices.length);

  const rerun = await cli(['backfill', jsonl, '--rate', '20']);
  expect(rerun.code).toBe(0);
  const counts = table(rerun.stdout);
  expect(counts).toMatchObject({ invalid: 0, 'failed to start': 0, 'total lines': 24 });
  expect(counts.started + counts['already done']).toBe(24);
  expect(counts['already done']).toBeGreaterThanOrEqual(before);
  // Visibility is eventually consistent: the last starts may take a moment to be listed.
  const ids = await readUntil(
    () => runsOn(invoices),
    (found) => found.length >= 24,
  );
  expect(ids).toHaveLength(24);
  expect(new Set(ids).size).toBe(24);
  // Progress went to stderr (not a terminal here: a line, with done/total and a rate).
  expect(rerun.stderr).toMatch(/\] 24\/24 +[\d.]+\/s +ETA 0s/);
});

test('a file that cannot be read, and a column the backfill does not know, are refused before anything starts', async () => {
  const missing = await cli(['backfill', join(dir, 'nope.csv')]);
  expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot read') });
  const odd = await cli(['backfill', file('odd.csv', 'invoice,mode,date,colour\n83001,cb,2024-01-01,blue\n'), '--strict']);
  expect(odd.code).toBe(2);
  expect(odd.stderr).toContain('line 2: colour: unknown column; accepted columns: invoice, mode, date, amount, payment id');
  expect(await runsOn(['83001'])).toEqual([]);
});

test('reconcile from the CLI prints the table; --dry-run starts and writes nothing', async () => {
  const id = addInvoice(rig.sandboxes, '84001', { fullyPaid: false });
  rig.sandboxes.tempo.invoice(id)!.MontantTTC = '100.00';
  const started = await rig.start({ invoiceNumber: id, amount: 100, paymentMode: 'cb', paymentDate: '2024-05-01' });
  await started.handle.result();
  Object.assign(rig.sandboxes.tempo.invoice(id)!, { RegleeTotale: 'OUI', DateReglementTotal: '20240502', MontantReglementPartielTotal: '100.00' });
  await eventually(async () => {
    for await (const e of rig.client.workflow.list({ query: `WorkflowType="paymentSyncWorkflow" AND TaskQueue="${rig.taskQueue}" AND ExecutionStatus="Running"` })) return !e;
    return true;
  }, 'every run closed in visibility');

  const dry = await cli(['reconcile', '--dry-run', '--invoice', id]);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain('dry run: reconciliation reconcile-on-demand-');
  expect(dry.stdout).toMatch(new RegExp(`${id} +settled-in-tempo +would-start`));
  expect(rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId, 'Rapprochement')).toEqual([]);

  const real = await cli(['reconcile', '--json']);
  const summary = JSON.parse(real.stdout);
  expect(summary).toMatchObject({ dryRun: false, syncsStarted: 1, started: [{ invoiceNumber: id }], summaryRow: 2 });
  await rig.client.workflow.getHandle(summary.started[0].workflowId).result();
  expect(rig.sandboxes.armado.billsWithReference(id)[0]).toMatchObject({ paymentType: 3, paymentDate: '2024-05-01T00:00:00.000000' });

  expect(await cli(['reconcile', '--invoice', 'abc'])).toMatchObject({
    code: 2,
    stderr: expect.stringContaining("option '--invoice <number>' argument 'abc' is invalid. must be a Tempo invoice number (digits)."),
  });
});
