// The cluster test's build: the service as the image builds it, and the Temporal server from its Go module
// (the first time only; cached in .cache/, git-ignored). Both outside the test's own timeout.
import { resolveTemporalServer } from '../../dev/cluster/server-binaries';
import { buildLikeTheImage } from '../helpers/build';

export default function globalSetup(): void {
  process.env.TEST_WORKFLOW_BUNDLE = buildLikeTheImage();
  const started = Date.now();
  const binaries = resolveTemporalServer();
  process.stderr.write(`Temporal server ready: ${binaries.server} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
