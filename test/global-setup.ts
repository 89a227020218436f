// Starts the run's Temporal dev server, bundles the workflows and builds dist/ once; tests read them from the environment.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT, resolveTestServer } from '../src/temporal/binaries';
import { freePort, startDevServer } from '../src/temporal/dev-server';

export default async function globalSetup(): Promise<void> {
  const testServer = resolveTestServer();
  if (testServer.type === 'existing-path') process.env.TEMPORAL_TEST_SERVER_PATH = testServer.path;

  const dir = join(PROJECT_ROOT, '.cache', 'test');
  mkdirSync(dir, { recursive: true });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger });
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;

  // Tests that run the service as a separate process (a worker to SIGKILL, operator scripts) use the build.
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(PROJECT_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });

  // With its Web UI, which the browser test drives.
  const uiPort = await freePort();
  const server = await startDevServer({ uiPort });
  process.env.TEST_TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;
  (globalThis as { __devServer?: unknown }).__devServer = server;
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };
