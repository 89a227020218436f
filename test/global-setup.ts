// Starts the run's Temporal dev server and builds what the container image builds (dist/ and the workflow
// bundle, with the image's own bundle script) once; tests read them from the environment.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, resolveTestServer } from '../src/temporal/binaries';
import { freePort, startDevServer } from '../src/temporal/dev-server';

export default async function globalSetup(): Promise<void> {
  const testServer = resolveTestServer();
  if (testServer.type === 'existing-path') process.env.TEMPORAL_TEST_SERVER_PATH = testServer.path;

  // Tests that run the service as a separate process (workers, the intake, the CLI) use the build.
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(PROJECT_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  const dir = join(PROJECT_ROOT, '.cache', 'test');
  mkdirSync(dir, { recursive: true });
  const bundlePath = join(dir, 'workflow-bundle.js');
  execFileSync(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'scripts', 'bundle-workflows.js'), bundlePath], { stdio: ['ignore', 'ignore', 'pipe'] });
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;

  // With its Web UI, which the browser test drives.
  const uiPort = await freePort();
  const server = await startDevServer({ uiPort });
  (globalThis as { __devServer?: unknown }).__devServer = server;
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TEST_TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;
}
