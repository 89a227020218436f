// The workflow bundle a worker runs: built once per version of the code and reused from the project cache,
// so that a worker restart does not spend seconds bundling what it bundled before.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { CACHE_DIR_ROOT, PROJECT_ROOT } from './binaries';

/** Every file the bundle can include from this project (the compiled code), plus the locked dependencies. */
function codeFingerprint(codeDir: string, lockFile: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.js')) hash.update(path).update(readFileSync(path));
    }
  };
  walk(codeDir);
  if (existsSync(lockFile)) hash.update(readFileSync(lockFile));
  return hash.digest('hex').slice(0, 16);
}

/** The path of a bundle of the current workflow code, bundling only when this code was never bundled here. */
export async function cachedWorkflowBundle(workflowsPath: string, log: (line: string) => void = () => undefined): Promise<string> {
  const codeDir = dirname(dirname(workflowsPath)); // dist/src
  const file = join(CACHE_DIR_ROOT, 'workflow-bundles', `${codeFingerprint(codeDir, join(PROJECT_ROOT, 'package-lock.json'))}.js`);
  if (existsSync(file)) return file;
  log('bundling the workflow code (once for this version of it)');
  // Webpack's statistics are noise in a worker's log: only warnings and errors pass.
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  mkdirSync(dirname(file), { recursive: true });
  // Written aside then renamed: two workers starting together never read a half-written bundle.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, code);
  renameSync(partial, file);
  return file;
}
