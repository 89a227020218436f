// Reading the ledger writer's own histories: every run of it (it continues as new), and their sizes.
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { LedgerWriterInput } from '../../src/workflows/ledger-contract';

type Event = temporal.api.history.v1.IHistoryEvent;

/** Every run of the writer, newest first, following continue-as-new links back from the current one. */
export async function writerRuns(client: Client, workflowId: string): Promise<Event[][]> {
  const runs: Event[][] = [];
  let runId: string | undefined;
  for (;;) {
    const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push(events);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId) return runs;
  }
}

export interface WriterFigures {
  runs: number;
  longestHistory: number;
  /** Bytes of the largest start input (what continue-as-new carried). */
  largestInput: number;
  mostRowsCarried: number;
}

export async function writerFigures(client: Client, workflowId: string): Promise<WriterFigures> {
  const runs = await writerRuns(client, workflowId);
  const inputs = runs.map((r) => r[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data ?? new Uint8Array());
  return {
    runs: runs.length,
    longestHistory: Math.max(...runs.map((r) => r.length)),
    largestInput: Math.max(...inputs.map((d) => d.length)),
    mostRowsCarried: Math.max(...inputs.map((d) => ((JSON.parse(Buffer.from(d).toString() || '{}') as LedgerWriterInput).pending ?? []).length)),
  };
}
