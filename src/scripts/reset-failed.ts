// `npm run reset-failed -- [--query Q] [--failure-type T] [--dry-run] [--limit N] [--reason R] [--json]`
// Re-runs, from their first workflow task, the failed payment syncs an operator has just fixed the cause of.
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { ConfigError, loadDotEnv, loadTemporalConfig } from '../config';
import { batchReset, batchResetQuery, DEFAULT_RESET_QUERY, type BatchResetEntry } from '../operations/reset';
import { DEV_SERVER_PORT } from './ports';

const USAGE = `usage: npm run reset-failed -- [options]
  --query Q          visibility query selecting runs (default: ${DEFAULT_RESET_QUERY})
  --failure-type T   only runs that failed with this type, e.g. ArmadoAuthFailed
  --dry-run          list what would be reset, change nothing
  --limit N          reset at most N runs
  --reason R         recorded on each reset (default: "re-run after fix")
  --json             print the entries as JSON lines`;

function line(e: BatchResetEntry): string {
  const what = e.action === 'reset' ? `reset → new run ${e.newRunId}` : e.action === 'would-reset' ? 'would reset' : `${e.action}: ${e.why ?? ''}`;
  return `${e.invoiceNumber ?? '?'}\t${e.workflowId}\t${e.failureType ?? '-'}\t${what}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      query: { type: 'string' },
      'failure-type': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      limit: { type: 'string' },
      reason: { type: 'string', default: 're-run after fix' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new Error('--limit: must be a positive integer');
  loadDotEnv();
  const temporal = loadTemporalConfig();
  const connection = await Connection.connect({ address: temporal.address ?? `127.0.0.1:${DEV_SERVER_PORT}` });
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    const dryRun = values['dry-run'];
    process.stderr.write(`${dryRun ? 'dry run: ' : ''}${batchResetQuery(values.query)}${values['failure-type'] ? ` with failure type ${values['failure-type']}` : ''}\n`);
    const entries = await batchReset(client, { query: values.query, failureType: values['failure-type'], reason: values.reason, dryRun, limit });
    for (const e of entries) process.stdout.write(`${values.json ? JSON.stringify(e) : line(e)}\n`);
    const count = (action: BatchResetEntry['action']) => entries.filter((e) => e.action === action).length;
    process.stderr.write(
      `${entries.length} run(s) matched: ${dryRun ? `${count('would-reset')} would be reset` : `${count('reset')} reset`}, ${count('skipped')} skipped, ${count('error')} error(s)\n`,
    );
    return count('error') > 0 ? 1 : 0;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof ConfigError ? err.message : `reset-failed: ${err instanceof Error ? err.message : String(err)}`}\n${USAGE}\n`);
    process.exit(2);
  },
);
