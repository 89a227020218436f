// Reading a payment run's history by step, whether the step ran as a remote activity (older versions, the
// ledger writer) or as a local activity (a marker holding the step's name, attempt and whether it failed).
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface StepRecord {
  eventId: number;
  /** The attempt that ended the step (a local activity's marker records it; a remote one's completion does not). */
  attempt?: number;
  failed: boolean;
}

/** The local-activity markers of one step, in history order: one per finished run of it (success or final failure). */
export function localStepRecords(events: HistoryEvent[], step: string): StepRecord[] {
  return events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    const data = marker.details?.data?.payloads?.[0]?.data;
    if (!data) return [];
    const meta = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string; attempt?: number };
    if (meta.activity_type !== step) return [];
    return [{ eventId: Number(e.eventId), attempt: meta.attempt, failed: Boolean(marker.failure) }];
  });
}

/** Signals of one name a run received, in history order. */
export function signalsNamed(events: HistoryEvent[], name: string): HistoryEvent[] {
  return events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name);
}
