// Starts the local Temporal dev server (SQLite, Web UI) from the binary resolved in binaries.ts.
import { createReadStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/contract';
import { resolveTemporalCli } from './binaries';

export interface DevServerOptions {
  /** SQLite file; omitted = in memory (tests). */
  dbFilename?: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  /** Every commit waits for the disk (SQLite's default); otherwise see FAST_SQLITE. */
  durableCommits?: boolean;
  /** No server log at all: a run that restarts the server on purpose (chaos) expects its shutdown errors. */
  quiet?: boolean;
}

/**
 * SQLite keeps 2 MB of the database in memory per connection unless told otherwise; the store of a busy week is
 * hundreds of MB, and the server's CPU per payment grew with it (36.8 ms at 1,000 payments, 54.8 ms at 10,000).
 * 64 MB of page cache per connection, and the file mapped.
 */
const SQLITE_CACHE = ['--sqlite-pragma', 'cache_size=-65536', '--sqlite-pragma', 'mmap_size=268435456'];

/**
 * A file-backed server writes every event with SQLite's write-ahead log and `synchronous=normal`: commits no
 * longer wait for the disk, about 2.5 times the throughput. What it risks: on a power loss (not a process
 * crash) the last commits before it can be lost. Every activity is idempotent and every start is keyed, so
 * a lost commit means a step runs again with the same effect, and a lost start is refused or repeated by
 * the caller's retry — never a payment written twice. TEMPORAL_DB_DURABLE=1 (or durableCommits) turns it off.
 */
const FAST_SQLITE = ['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal', ...SQLITE_CACHE];

/**
 * The server hands a scheduled activity straight back to the worker that scheduled it, in the answer to its
 * workflow task, instead of through a task queue poll: fewer server round trips per step (300 payments:
 * 32.6 and 35.0 s without, 30.2 and 31.6 s with). The same setting is in the cluster's dynamic config.
 */
const EAGER_ACTIVITIES = ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'];

/**
 * Task queues order their backlog by priority: the ledger writer's tasks go before the payment runs' (see
 * LEDGER_WRITER_PRIORITY). The cluster's dynamic config sets the same.
 */
const PRIORITY_MATCHING = ['--dynamic-config-value', 'matching.useNewMatcher=true'];

/**
 * The SDK gives the server 5 s to answer, fixed. Loading its 200 MB binary from a cold page cache (after a
 * machine reclaimed it: measured here, 5.1 s and a failed start) can take longer than the start itself
 * (0.2 to 2 s), so the file is read through once first (0.4 s cold).
 */
export async function warm(executable: { type: string; path?: string }): Promise<void> {
  if (executable.type !== 'existing-path' || !executable.path) return;
  const stream = createReadStream(executable.path, { highWaterMark: 8 * 1024 * 1024 });
  for await (const chunk of stream) void chunk;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  if (options.dbFilename) mkdirSync(dirname(options.dbFilename), { recursive: true });
  const executable = resolveTemporalCli();
  await warm(executable);
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable,
      ip: '127.0.0.1',
      port: options.port,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
      dbFilename: options.dbFilename,
      namespace: options.namespace ?? 'default',
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      extraArgs: [
        '--log-level',
        options.quiet ? 'never' : 'error',
        ...(options.dbFilename && options.durableCommits !== true ? FAST_SQLITE : []),
        ...(options.dbFilename ? EAGER_ACTIVITIES : []),
        ...PRIORITY_MATCHING,
      ],
    },
  });
}

/** A port free on loopback right now (for a server that must know its port before it starts, like the UI). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
