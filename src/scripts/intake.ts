// `npm run intake`: the HTTP intake (POST /v1/payments …) on INTAKE_PORT, against TEMPORAL_ADDRESS.
import { Client } from '@temporalio/client';
import { loadIntakeConfig } from '../config';
import { buildPaymentModeTable } from '../domain/payment-modes';
import { createIntakeServer } from '../intake/server';
import { loadOrExit } from './load-or-exit';
import { connectClient, temporalConnectionSettings } from '../temporal/connection';

async function main(): Promise<void> {
  const config = loadOrExit(() => loadIntakeConfig(), 'see docs/api.md "Over HTTP: the intake"');
  const settings = temporalConnectionSettings(config.temporal);
  const address = `${settings.address}, ${settings.security}`;
  const connection = await connectClient(settings);
  const client = new Client({ connection, namespace: settings.namespace });
  const server = createIntakeServer({
    client,
    token: config.intake.token,
    start: { taskQueue: config.temporal.taskQueue, defaultDossier: config.defaultDossier, paymentModes: buildPaymentModeTable(config.paymentModes) },
    log: (entry) => process.stdout.write(`${JSON.stringify(entry)}\n`),
  });
  server.listen(config.intake.port, () => {
    const { port } = server.address() as { port: number };
    process.stderr.write(`intake listening on :${port} (Temporal ${address}, namespace ${settings.namespace}, task queue ${config.temporal.taskQueue})\n`);
  });
  const stop = () => {
    // Requests already received are answered (their workflows started) before the process exits.
    void server
      .shutdown()
      .then(() => connection.close())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
