// What the container image builds, built once per test run: dist/ and the workflow bundle (with the image's
// own bundle script). Processes started by tests run from these.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/temporal/binaries';

/** Compiles, bundles the workflows, and returns the bundle's path. */
export function buildLikeTheImage(): string {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(PROJECT_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  const dir = join(PROJECT_ROOT, '.cache', 'test');
  mkdirSync(dir, { recursive: true });
  const bundlePath = join(dir, 'workflow-bundle.js');
  execFileSync(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'scripts', 'bundle-workflows.js'), bundlePath], { stdio: ['ignore', 'ignore', 'pipe'] });
  return bundlePath;
}
