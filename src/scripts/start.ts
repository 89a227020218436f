// `npm start` / `npm run worker`: the worker, plus the embedded dev server when TEMPORAL_ADDRESS is unset.
import { join } from 'node:path';
import { loadConfig } from '../config';
import { installObservability } from '../observability';
import { PROJECT_ROOT } from '../temporal/binaries';
import { startDevServer } from '../temporal/dev-server';
import { runWorker } from '../worker';
import { temporalConnectionSettings } from '../temporal/connection';
import { loadOrExit } from './load-or-exit';
import { DEV_SERVER_ADDRESS, DEV_SERVER_PORT, DEV_UI_PORT } from './ports';

async function main(): Promise<void> {
  const config = loadOrExit(() => loadConfig(), 'see README.md "Configuration"; `npm run demo` runs everything against local sandboxes');
  // Before anything touches the SDK runtime (the dev server does): JSON logs and the metrics endpoint.
  installObservability({
    logLevel: config.worker.logLevel,
    metricsPort: config.worker.metricsPort > 0 ? config.worker.metricsPort : undefined,
    // The Temporal token too: nothing should log it, and if anything tried, it is masked.
    secrets: [config.tempo.password, config.armado.apiKey, ...(process.env.TEMPORAL_API_KEY ? [process.env.TEMPORAL_API_KEY] : [])],
  });
  const workerOnly = process.argv.includes('--worker-only');
  if (config.temporal.address || workerOnly) {
    await runWorker(config);
    return;
  }
  const settings = temporalConnectionSettings({ ...config.temporal, address: DEV_SERVER_ADDRESS });
  const server = await startDevServer({
    dbFilename: join(PROJECT_ROOT, '.temporal', 'temporal.db'),
    port: DEV_SERVER_PORT,
    uiPort: DEV_UI_PORT,
    namespace: settings.namespace,
    durableCommits: process.env.TEMPORAL_DB_DURABLE === '1',
  });
  process.stderr.write(`Temporal dev server on ${DEV_SERVER_ADDRESS}, Web UI on http://localhost:${DEV_UI_PORT}\n`);
  try {
    await runWorker(config, settings);
  } finally {
    await server.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
