// A first call through a connection made from Temporal's client variables: TLS and authorization refusals show
// there (a connection is lazy). Shared by the cluster's security tests.
import { Client, Connection } from '@temporalio/client';
import type { TemporalCluster } from '../../dev/cluster/cluster';
import { connectClient, temporalConnectionSettings } from '../../src/temporal/connection';

export async function firstCall(cluster: TemporalCluster, env: Record<string, string>): Promise<string> {
  const settings = temporalConnectionSettings({ address: cluster.address, namespace: cluster.namespace }, { TEMPORAL_ADDRESS: cluster.address, ...env });
  let connection: Connection | undefined;
  try {
    connection = await connectClient(settings, { connectTimeout: 5_000 });
    await connection.withDeadline(Date.now() + 5_000, () =>
      new Client({ connection: connection!, namespace: cluster.namespace }).workflowService.describeNamespace({ namespace: cluster.namespace }),
    );
    return 'accepted';
  } catch (err) {
    // The server's own words are at the end of the chain (a connect that failed wraps the refused call).
    const chain: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(e.message);
    return `refused: ${chain.join(': ')}`;
  } finally {
    await connection?.close();
  }
}
