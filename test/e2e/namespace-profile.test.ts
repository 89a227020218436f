// One resolved namespace for every process: a `temporal.toml` profile that names the namespace (the usual Temporal
// Cloud set-up, no TEMPORAL_NAMESPACE) is where the worker polls and where the CLI starts payments.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/contract';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { eventually } from '../helpers/eventually';
import { startWorkerProcess, useProcessRig } from '../helpers/worker-process';

const NAMESPACE = 'payments-profile';
const rig = useProcessRig('namespace');
const dir = mkdtempSync(join(tmpdir(), 'profile-'));
const profile = { TEMPORAL_CONFIG_FILE: join(dir, 'temporal.toml'), TEMPORAL_PROFILE: 'cloudlike' };

beforeAll(async () => {
  writeFileSync(profile.TEMPORAL_CONFIG_FILE, `[profile.cloudlike]\naddress = "${process.env.TEST_TEMPORAL_ADDRESS}"\nnamespace = "${NAMESPACE}"\n`);
  // A namespace of its own, with the service's search attributes, as deploy/temporal/create-namespace.sh makes one.
  await rig.client.workflowService
    .registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } })
    .catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // already there (a re-run against the same server)
    });
  await eventually(
    () =>
      rig.client.connection.operatorService
        .addSearchAttributes({
          namespace: NAMESPACE,
          searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_KEYS.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
        })
        .then(
          () => true,
          (err: { code?: number }) => err.code === 6, // already registered
        ),
    'the namespace to take search attributes',
  );
}, 60_000);

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'cli.js'), ...args], { env, cwd: '/' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test("a profile's namespace, and no TEMPORAL_NAMESPACE: the worker polls there and the payment the CLI starts there is synced", async () => {
  const invoice = '78001';
  rig.sandboxes.tempo.addInvoice(invoice, 50);
  rig.sandboxes.tempo.invoice(invoice)!.RegleeTotale = 'OUI';
  rig.sandboxes.armado.addBill(invoice);
  // Only the profile says where Temporal is and which namespace: no TEMPORAL_ADDRESS, no TEMPORAL_NAMESPACE.
  const { output } = await startWorkerProcess(rig.sandboxes, rig.taskQueue, { ...profile, TEMPORAL_ADDRESS: undefined });
  expect(output()).toContain(`"namespace":"${NAMESPACE}"`);

  const env = { PATH: process.env.PATH as string, ...rig.sandboxes.env, ...profile, TEMPORAL_TASK_QUEUE: rig.taskQueue };
  const started = await cli(['start', '--invoice', invoice, '--mode', 'cb', '--date', '2024-07-01', '--tempo-status', '200', '--wait', '--json'], env);
  expect(started).toMatchObject({ code: 0 });
  expect(rig.sandboxes.armado.billsWithReference(invoice)[0]).toMatchObject({ paymentType: 3, paymentDate: '2024-07-01T00:00:00.000000' });
  expect(rig.sandboxes.google.rows(rig.sandboxes.spreadsheetId).filter((r) => r[0] === invoice)).toHaveLength(1);
}, 90_000);
