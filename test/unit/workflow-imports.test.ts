// A payment run evaluates its own copy of every module it imports, and a cached run keeps it: zod there cost half of
// a run's CPU in the worker and most of its memory (ledger-protocol.ts gives the figures). This keeps it out: the
// compiled payment workflow, loaded alone, must not load zod (the writer and the reconciliation may, in their runs).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/temporal/binaries';

const loadedBy = (module: string, then = ''): string[] => {
  const script = `const m = require(${JSON.stringify(module)}); ${then}; process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8' })) as string[];
};
const zodIn = (files: string[]) => files.filter((f) => f.includes(`${join('node_modules', 'zod')}`));

test("the payment workflow, as the worker bundles it, imports no zod; the writer's checks do, once used (the check can fail)", () => {
  const dist = join(PROJECT_ROOT, 'dist', 'src', 'workflows');
  expect(zodIn(loadedBy(join(dist, 'index.js')))).toEqual([]);
  expect(zodIn(loadedBy(join(dist, 'payment-sync.js')))).toEqual([]);
  // The protocol's schemas are built on first use, as the writer does when it starts.
  expect(zodIn(loadedBy(join(dist, 'ledger-protocol.js'), 'm.ledgerSchemas()')).length).toBeGreaterThan(0);
});
