// Starts the local Temporal dev server (SQLite, Web UI) from the binary resolved in binaries.ts.
import { mkdirSync } from 'node:fs';
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
  /** No server log at all: a run that restarts the server on purpose (chaos) expects its shutdown errors. */
  quiet?: boolean;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  if (options.dbFilename) mkdirSync(dirname(options.dbFilename), { recursive: true });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: resolveTemporalCli(),
      ip: '127.0.0.1',
      port: options.port,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
      dbFilename: options.dbFilename,
      namespace: options.namespace ?? 'default',
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      extraArgs: ['--log-level', options.quiet ? 'never' : 'error'],
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
