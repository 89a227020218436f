// The worker process: connection, worker for both workflows and all activities, clean shutdown on a signal.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityClients } from './activities';
import type { Config } from './config';

export interface PaymentWorkerOptions {
  config: Config;
  connection: NativeConnection;
  /** Overrides config.temporal.taskQueue (tests give each test its own). */
  taskQueue?: string;
  clients?: ActivityClients;
  /** A bundle built once (tests, production image); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export async function createPaymentWorker(options: PaymentWorkerOptions): Promise<Worker> {
  const { config } = options;
  return Worker.create({
    connection: options.connection,
    namespace: config.temporal.namespace,
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    activities: createActivities(config, options.clients),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
  });
}

/** Runs until SIGINT/SIGTERM (the SDK's runtime turns them into a graceful shutdown). */
export async function runWorker(config: Config, address: string): Promise<void> {
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await createPaymentWorker({ config, connection });
    process.stderr.write(`worker polling task queue "${config.temporal.taskQueue}" on ${address} (namespace ${config.temporal.namespace})\n`);
    await worker.run();
  } finally {
    await connection.close();
  }
}
