// The worker process: connection, worker for both workflows and all activities, clean shutdown on a signal.
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityClients } from './activities';
import type { Config } from './config';
import { BacklogSampler, backlogGauges, startBacklogSampler } from './operations/backlog';
import { ensureReconcileSchedule } from './operations/reconcile';
import { SEARCH_ATTRIBUTE_KEYS } from './workflows/contract';
import { connectWorker, temporalConnectionSettings, type TemporalConnectionSettings } from './temporal/connection';
import { cachedWorkflowBundle } from './temporal/workflow-bundle';

export interface PaymentWorkerOptions {
  config: Config;
  connection: NativeConnection;
  /** Overrides config.temporal.taskQueue (tests give each test its own). */
  taskQueue?: string;
  clients?: ActivityClients;
  /** A bundle built once (tests, production image); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The namespace resolved with the connection (TEMPORAL_NAMESPACE, else a temporal.toml profile's); default config's. */
  namespace?: string;
}

export async function createPaymentWorker(options: PaymentWorkerOptions): Promise<Worker> {
  const { config } = options;
  const workflowsPath = require.resolve('./workflows');
  // Compiled code (npm start / worker): reuse the bundle of this exact code from the cache when there is one.
  const cached =
    !options.workflowBundle && !config.worker.workflowBundle && workflowsPath.endsWith('.js')
      ? await cachedWorkflowBundle(workflowsPath, (line) => Runtime.instance().logger.info(line))
      : undefined;
  const bundle = options.workflowBundle ?? (config.worker.workflowBundle ? { codePath: config.worker.workflowBundle } : cached ? { codePath: cached } : undefined);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? config.temporal.namespace,
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    activities: createActivities(config, options.clients),
    ...(bundle ? { workflowBundle: bundle } : { workflowsPath }),
    // On SIGTERM the SDK stops polling at once; activities already running get this long to finish.
    shutdownGraceTime: config.worker.shutdownGraceMs,
    ...(config.worker.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.worker.maxCachedWorkflows } : {}),
  });
}

/**
 * Runs until SIGINT/SIGTERM: the SDK's runtime turns them into a graceful shutdown (no new tasks, in-flight
 * activities finish within WORKER_SHUTDOWN_GRACE), after which this resolves and the process can exit 0.
 */
export async function runWorker(config: Config, settings: TemporalConnectionSettings = temporalConnectionSettings(config.temporal)): Promise<void> {
  const log = Runtime.instance().logger;
  const connection = await connectWorker(settings);
  const address = settings.address;
  try {
    // The namespace resolved with the connection, as every client resolves it: a profile's namespace is polled too.
    const namespace = settings.namespace;
    await requireSearchAttributes(connection, namespace, (message) => log.warn(message));
    const worker = await createPaymentWorker({ config, connection, namespace });
    const client = new Client({ connection, namespace });
    // Payments come first: a Schedule that cannot be set now is logged and tried again at the next start.
    await ensureReconcileSchedule(client, {
      cron: config.reconcile.cron,
      timeZone: config.armado.timeZone,
      taskQueue: config.temporal.taskQueue,
    }).then(
      (change) => log.info('reconciliation schedule', { change, cron: config.reconcile.cron ?? 'off', timeZone: config.armado.timeZone }),
      (err: unknown) => log.error('reconciliation schedule could not be set', { error: err instanceof Error ? err.message : String(err) }),
    );
    log.info('worker polling', {
      taskQueue: config.temporal.taskQueue,
      namespace,
      address,
      security: settings.security,
      metrics: config.worker.metricsPort > 0 ? `:${config.worker.metricsPort}/metrics` : 'off',
    });
    // Gauges nobody can scrape are not worth their visibility calls.
    const intervalMs = config.worker.metricsPort > 0 ? config.worker.backlogSampleIntervalMs : 0;
    const sampler =
      intervalMs > 0
        ? startBacklogSampler(
            new BacklogSampler(client, { taskQueue: config.temporal.taskQueue, spreadsheetId: config.sheets.spreadsheetId, sheetName: config.sheets.sheetName }),
            backlogGauges(Runtime.instance().metricMeter),
            intervalMs,
            (err) => log.warn('backlog not sampled; the gauges keep their last values', { error: err instanceof Error ? err.message : String(err) }),
          )
        : undefined;
    try {
      await worker.run();
    } finally {
      sampler?.stop();
    }
    log.info('worker stopped', { taskQueue: config.temporal.taskQueue });
  } finally {
    await connection.close();
  }
}

/**
 * A run that writes a search attribute the namespace does not have fails its workflow task again and again: refuse
 * to start instead, naming the fix. Where listing them is not allowed (a narrower role), say so and go on.
 */
async function requireSearchAttributes(connection: NativeConnection, namespace: string, warn: (message: string) => void): Promise<void> {
  let registered: Record<string, unknown> | undefined;
  try {
    registered = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    warn(`search attributes not checked (${err instanceof Error ? err.message : String(err)}); run deploy/temporal/create-namespace.sh if any is missing`);
    return;
  }
  const missing = SEARCH_ATTRIBUTE_KEYS.map((k) => k.name).filter((name) => !(name in (registered as object)));
  if (missing.length > 0) {
    throw new Error(
      `search attributes missing in namespace "${namespace}": ${missing.join(', ')}; register them (deploy/temporal/create-namespace.sh, or temporal operator search-attribute create --name <name> --type Keyword) before starting workers`,
    );
  }
}
