// Reading the ledger writer's own histories: every run of it (it continues as new), and their sizes.
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { LedgerWriterInput } from '../../src/workflows/ledger-protocol';

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
  /** Bytes of the largest payload in any of its events (a batch's activity input, a signal, a start input). */
  largestPayload: number;
}

/** The sizes of every payload an event carries (its input, result, signal arguments…). */
function payloadSizes(value: unknown): number[] {
  if (!value || typeof value !== 'object') return [];
  if (value instanceof Uint8Array) return [];
  const payloads = (value as { payloads?: { data?: Uint8Array }[] }).payloads;
  const own = Array.isArray(payloads) ? [payloads.reduce((n, p) => n + (p.data?.length ?? 0), 0)] : [];
  return [...own, ...Object.values(value).flatMap(payloadSizes)];
}

export async function writerFigures(client: Client, workflowId: string): Promise<WriterFigures> {
  const runs = await writerRuns(client, workflowId);
  const inputs = runs.map((r) => r[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data ?? new Uint8Array());
  return {
    runs: runs.length,
    longestHistory: Math.max(...runs.map((r) => r.length)),
    largestInput: Math.max(...inputs.map((d) => d.length)),
    largestPayload: Math.max(0, ...runs.flat().flatMap(payloadSizes)),
    mostRowsCarried: Math.max(...inputs.map((d) => ((JSON.parse(Buffer.from(d).toString() || '{}') as LedgerWriterInput).pending ?? []).length)),
  };
}
