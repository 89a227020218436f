// The time-skipping test server (the pinned binary), with this service's search attributes registered.
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/contract';
import { warm } from '../../src/temporal/dev-server';
import { installQuietRuntime } from './e2e';

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const path = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (path) await warm({ type: 'existing-path', path }); // the same 5 s start window as the dev server's
  const env = await TestWorkflowEnvironment.createTimeSkipping(path ? { server: { executable: { type: 'existing-path', path } } } : {});
  // The test server knows no custom search attributes until told, like a fresh cluster.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_KEYS.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  return env;
}
