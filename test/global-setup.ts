// Starts the run's Temporal dev server and builds what the container image builds (dist/ and the workflow
// bundle, with the image's own bundle script) once; tests read them from the environment.
import { resolveTestServer } from '../src/temporal/binaries';
import { buildLikeTheImage } from './helpers/build';
import { freePort, startDevServer } from '../src/temporal/dev-server';

export default async function globalSetup(): Promise<void> {
  const testServer = resolveTestServer();
  if (testServer.type === 'existing-path') process.env.TEMPORAL_TEST_SERVER_PATH = testServer.path;

  // Tests that run the service as a separate process (workers, the intake, the CLI) use the build.
  process.env.TEST_WORKFLOW_BUNDLE = buildLikeTheImage();

  // With its Web UI, which the browser test drives.
  const uiPort = await freePort();
  const server = await startDevServer({ uiPort });
  (globalThis as { __devServer?: unknown }).__devServer = server;
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TEST_TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;
}
