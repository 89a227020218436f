// Determinism guard: every recorded history (test/histories, re-recorded by `npm run record-histories`)
// must replay against the current workflow code. A change that breaks one needs patched() (README).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { installQuietRuntime } from '../helpers/e2e';

const HISTORIES = join(__dirname, '..', 'histories');

function historyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? historyFiles(join(dir, e.name)) : e.name.endsWith('.json') ? [join(dir, e.name)] : []));
}

/** The branches DESIGN §1 and §6 define; each must have a recording. */
const BRANCHES = [
  'synced',
  'partially-paid',
  'tempo-update-not-confirmed',
  'invalid-payment-input',
  'unknown-payment-mode',
  'tempo-invoice-not-found',
  'tempo-auth-failed',
  'armado-auth-failed',
  'sheets-auth-failed',
  'armado-validation-failed',
  'armado-bill-ambiguous',
  'armado-bill-not-found',
  'transient-failures-then-synced',
  'bill-created-late-retry-armado-now',
  'ledger-writer',
  'reconcile',
];

describe('recorded histories replay against the current workflow code', () => {
  const files = historyFiles(HISTORIES);
  const names = files.map((f) => relative(HISTORIES, f).replace(/\.json$/, ''));

  test('every branch has a recording', () => {
    expect(BRANCHES.filter((b) => !names.includes(b))).toEqual([]);
  });

  test.each(BRANCHES.filter((b) => b !== 'ledger-writer'))('%s was recorded from a real run that reached its end', (name) => {
    const history = JSON.parse(readFileSync(join(HISTORIES, `${name}.json`), 'utf8')) as { events: { eventType: string }[] };
    const last = history.events.at(-1)?.eventType ?? '';
    expect(last).toMatch(/WORKFLOW_EXECUTION_(COMPLETED|FAILED)$/);
  });

  // The patched('run-memo') demonstration: histories from before the memo have neither the patch marker nor a
  // memo write and still replay (test below); runs recorded since take the new path.
  type Event = { eventType: string; markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> } };
  const eventTypes = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { events: Event[] }).events;
  const patchIds = (file: string) =>
    eventTypes(file)
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
      .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data ?? '', 'base64').toString()) as { id: string })
      .map((p) => p.id);
  const hasPatch = (file: string, id = 'run-memo') => patchIds(file).includes(id);
  const inFolder = (folder: string) => files.filter((f) => f.includes(join('histories', folder)) && !f.endsWith('ledger-writer.json'));
  const modifiesMemo = (file: string) => eventTypes(file).some((e) => e.eventType.endsWith('WORKFLOW_PROPERTIES_MODIFIED'));

  // Not a test of code: it keeps the replay below meaningful, by making sure the corpus holds histories of
  // each workflow version a production run may still be in (else a removed legacy path would go unnoticed).
  test('the corpus covers every version still replayable: before run-memo, between the patches, v2, v3 (the one order), the local steps, since the waits are marked', () => {
    const legacy = inFolder('before-run-memo');
    const v1 = inFolder('before-v2');
    const v2 = inFolder('before-one-order').filter((f) => !f.endsWith('reconcile.json'));
    const v3 = inFolder('before-local-steps').filter((f) => !f.endsWith('reconcile.json'));
    const v4 = inFolder('before-waiting-for').filter((f) => !f.endsWith('reconcile.json'));
    const current = BRANCHES.filter((b) => b !== 'ledger-writer' && b !== 'reconcile').map((b) => join(HISTORIES, `${b}.json`));
    expect(legacy.length).toBeGreaterThanOrEqual(14);
    expect(v1.length).toBeGreaterThanOrEqual(14);
    expect(v2.length).toBeGreaterThanOrEqual(14);
    expect(v3.length).toBeGreaterThanOrEqual(14);
    expect(legacy.filter((f) => hasPatch(f) || modifiesMemo(f))).toEqual([]);
    expect(v1.filter((f) => !hasPatch(f) || !modifiesMemo(f) || hasPatch(f, 'payment-sync-v2'))).toEqual([]);
    expect(v2.filter((f) => !hasPatch(f, 'payment-sync-v2') || !modifiesMemo(f) || hasPatch(f, 'one-order-per-invoice'))).toEqual([]);
    expect(v3.filter((f) => !hasPatch(f, 'one-order-per-invoice') || !modifiesMemo(f) || hasPatch(f, 'local-steps'))).toEqual([]);
    expect(v4.length).toBeGreaterThanOrEqual(14);
    expect(v4.filter((f) => !hasPatch(f, 'local-steps') || hasPatch(f, 'waiting-for-attribute'))).toEqual([]);
    expect(current.filter((f) => !hasPatch(f, 'local-steps') || !modifiesMemo(f) || hasPatch(f, 'one-order-per-invoice'))).toEqual([]);
    // A run that waited marks it (the patch, then SyncWaitingFor); one that never waited records neither.
    expect(current.filter((f) => hasPatch(f, 'waiting-for-attribute')).map((f) => relative(HISTORIES, f))).toContain('armado-bill-not-found.json');
    expect(hasPatch(join(HISTORIES, 'synced.json'), 'waiting-for-attribute')).toBe(false);
  });

  // The writer's patch: one recorded before it (one signal per row, no backlog published) and one since.
  test('the ledger writer is recorded before request batches (it ignores them) and since (it takes them and publishes its backlog)', () => {
    const signalNames = (file: string) =>
      (JSON.parse(readFileSync(file, 'utf8')) as { events: { workflowExecutionSignaledEventAttributes?: { signalName?: string } }[] }).events
        .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)
        .filter((name) => name !== undefined);
    const before = join(HISTORIES, 'before-request-batches', 'ledger-writer.json');
    const since = join(HISTORIES, 'ledger-writer.json');
    expect(hasPatch(before, 'ledger-request-batches') || modifiesMemo(before)).toBe(false);
    expect(new Set(signalNames(before))).toEqual(new Set(['enqueueLedgerRow']));
    expect(hasPatch(since, 'ledger-request-batches') && modifiesMemo(since)).toBe(true);
    expect(new Set(signalNames(since))).toEqual(new Set(['enqueueLedgerRows']));
  });

  test(`all ${files.length} histories replay without a determinism error`, async () => {
    installQuietRuntime();
    const codePath = process.env.TEST_WORKFLOW_BUNDLE as string;
    const histories = files.map((file, i) => ({
      workflowId: names[i] as string,
      history: historyFromJSON(JSON.parse(readFileSync(file, 'utf8'))),
    }));
    const failures: string[] = [];
    const results: AsyncIterableIterator<ReplayResult> = Worker.runReplayHistories({ workflowBundle: { codePath }, replayName: 'replay-test' }, histories);
    let replayed = 0;
    for await (const result of results) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
