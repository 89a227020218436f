// The cluster test's build: the service as the image builds it, the Temporal server and Docker Compose from their
// Go modules (the first time only; cached in .cache/, git-ignored). Both outside the test's own timeout.
import { resolveCompose } from '../../dev/cluster/compose-cli';
import { resolveTemporalServer } from '../../dev/cluster/server-binaries';
import { buildLikeTheImage } from '../helpers/build';

export default function globalSetup(): void {
  process.env.TEST_WORKFLOW_BUNDLE = buildLikeTheImage();
  const started = Date.now();
  const binaries = resolveTemporalServer();
  process.stderr.write(`Temporal server ready: ${binaries.server} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  // Docker Compose reads docker-compose.yml for the tests that launch the server as compose does.
  const composeStarted = Date.now();
  process.stderr.write(`Docker Compose ready: ${resolveCompose()} (${((Date.now() - composeStarted) / 1000).toFixed(1)} s)\n`);
}
