// The worker's side of queuing ledger rows: requests made together, or while the previous signal is on its way,
// go to the writer in one signal when the writer says (by its memo) that it takes batches, one signal each when it does not (a writer
// still running code from before batches), and every caller learns the writer's backlog. The writer's side, and
// the whole path on a real server, are in test/e2e/ledger-writer.test.ts; this checks the choice and the grouping.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { LedgerRequestGatherer } from '../../src/activities/ledger-step';
import { LEDGER_BACKLOG_MEMO, MAX_REQUESTS_PER_SIGNAL, type LedgerRequest } from '../../src/workflows/ledger-protocol';

type Sent = { signal: string; args: unknown[]; at?: number };

/** The two calls the gatherer makes, answered as a server in the given state would. */
type WriterDescription = { status: 'RUNNING' | 'COMPLETED'; memo?: Record<string, unknown> } | 'absent';
function serverWith(described: WriterDescription | (() => WriterDescription), failSignals = false) {
  const sent: Sent[] = [];
  const client = {
    workflow: {
      getHandle: () => ({
        describe: async () => {
          const writer = typeof described === 'function' ? described() : described;
          if (writer === 'absent') throw new WorkflowNotFoundError('not found', 'w', undefined);
          return { status: { name: writer.status }, memo: writer.memo };
        },
      }),
      signalWithStart: async (_type: string, options: { signal: { name: string }; signalArgs: unknown[] }) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (failSignals) throw new Error('14 UNAVAILABLE');
        sent.push({ signal: options.signal.name, args: options.signalArgs, at: Date.now() });
      },
    },
  } as unknown as Client;
  return { client, sent };
}

const settings = { batchWindowMs: 2_000, maxBatch: 200, rolloverAfterEvents: 4_000, maxCarried: 500, writeTimeoutMs: 130_000 };
const request = (i: number): LedgerRequest => ({
  requestId: `run-${i}/1/1`,
  row: { invoiceNumber: String(1000 + i), status: 'Payée', paymentMode: 'Virement', paymentDate: '2026-12-07 10:00', workflowId: `payment-${i}` },
  replyTo: { workflowId: `payment-${i}`, runId: `run-${i}` },
  settings,
});
/** In a batch signal the worker's settings travel once, beside the requests. */
const inBatch = ({ settings: _settings, ...rest }: LedgerRequest) => rest;
const start = { spreadsheetId: 's', sheetName: 'Paiements', settings };

test('requests made together go to a writer that takes batches in one signal, and each caller learns its backlog', async () => {
  const now = Date.now();
  const { client, sent } = serverWith({ status: 'RUNNING', memo: { [LEDGER_BACKLOG_MEMO]: { rows: 1_000, rowsPerSecond: 50, at: now } } });
  const gatherer = new LedgerRequestGatherer();
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => gatherer.queue(client, 'writer', 'q', start, request(i))));
  expect(sent).toEqual([{ signal: 'enqueueLedgerRows', args: [{ settings, requests: Array.from({ length: 30 }, (_, i) => inBatch(request(i))) }], at: expect.any(Number) }]);
  for (const backlogMs of answers) expect(backlogMs).toBeGreaterThan(18_000); // 20 s of rows ahead, less the test's own time
});

test('requests made while a signal is on its way, or within the spacing after it, go together in the next one, at most MAX_REQUESTS_PER_SIGNAL each', async () => {
  const { client, sent } = serverWith('absent');
  const gatherer = new LedgerRequestGatherer(300);
  const burst = Array.from({ length: MAX_REQUESTS_PER_SIGNAL + 50 }, (_, i) => gatherer.queue(client, 'writer', 'q', start, request(i)));
  const late = gatherer.queue(client, 'writer', 'q', start, request(9_999)); // the first signal is not sent yet
  await Promise.all([...burst, late]);
  expect(sent.map((s) => (s.args[0] as { requests: unknown[] }).requests.length)).toEqual([MAX_REQUESTS_PER_SIGNAL, 51]);

  const lastSent = Date.now();
  const next = [1, 2, 3].map((i) => gatherer.queue(client, 'writer', 'q', start, request(10_000 + i)));
  await Promise.all(next);
  expect(Date.now() - lastSent).toBeGreaterThanOrEqual(250); // held for the spacing, then sent together
  expect(sent.map((s) => (s.args[0] as { requests: unknown[] }).requests.length)).toEqual([MAX_REQUESTS_PER_SIGNAL, 51, 3]);
});

test('a writer that publishes no backlog runs code from before batches: one signal per request, in order', async () => {
  const { client, sent } = serverWith({ status: 'RUNNING', memo: { unrelated: 1 } });
  const gatherer = new LedgerRequestGatherer();
  const answers = await Promise.all([0, 1, 2].map((i) => gatherer.queue(client, 'writer', 'q', start, request(i))));
  expect(sent).toEqual([0, 1, 2].map((i) => ({ signal: 'enqueueLedgerRow', args: [request(i)], at: expect.any(Number) })));
  expect(answers).toEqual([0, 0, 0]);
});

test('no writer yet, or a closed one: the signal starts one of this code, which takes batches', async () => {
  for (const writer of ['absent', { status: 'COMPLETED' }] as const) {
    const { client, sent } = serverWith(writer);
    await Promise.all([0, 1].map((i) => new LedgerRequestGatherer().queue(client, 'writer', 'q', start, request(i)))); // two workers
    expect(sent.map((s) => s.signal)).toEqual(['enqueueLedgerRows', 'enqueueLedgerRows']);
  }
});

test('writers are gathered apart, and a failed signal fails every caller of that signal (their activities retry)', async () => {
  const { client, sent } = serverWith('absent');
  const gatherer = new LedgerRequestGatherer();
  await Promise.all([gatherer.queue(client, 'writer-2026', 'q', start, request(1)), gatherer.queue(client, 'writer-2027', 'q', start, request(2))]);
  expect(sent).toHaveLength(2);

  const failing = serverWith('absent', true);
  const results = await Promise.allSettled([0, 1, 2].map((i) => gatherer.queue(failing.client, 'writer', 'q', start, request(i))));
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
});

test('a writer about to continue as new gets no signal until it has (its new run publishes its backlog afresh)', async () => {
  const rollingOverUntil = Date.now() + 600;
  const { client, sent } = serverWith(() => ({
    status: 'RUNNING',
    memo: { [LEDGER_BACKLOG_MEMO]: { rows: 10, rowsPerSecond: 50, at: Date.now(), ...(Date.now() < rollingOverUntil ? { rollingOver: true } : {}) } },
  }));
  await new LedgerRequestGatherer().queue(client, 'writer', 'q', start, request(1));
  expect(sent).toHaveLength(1);
  expect(sent[0]!.at).toBeGreaterThanOrEqual(rollingOverUntil);
});
