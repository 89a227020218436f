// The ledger writer's answer to a payment run: its signal and the check a run makes of what arrives on it.
//
// Deliberately free of zod, like everything a payment run imports: a workflow evaluates its own copy of every module
// it imports, per run (Temporal's sandbox), and kept runs hold that copy in memory. zod's evaluation made up half
// of a payment run's CPU in the worker and most of its memory (measured: 1,000 payments in 55.5 s and 1,753 MiB
// of worker RSS with it, 37.2 s and 585 MiB without). The zod schema stays the definition (`LedgerReplySchema` in
// ledger-contract.ts, used by the writer's side); a property test holds this check to exactly what it accepts.
import { defineSignal } from '@temporalio/workflow';
import type { LedgerWriteResult } from '../domain/shapes';

export type LedgerReply = { requestId: string; result: LedgerWriteResult & { armadoAfter?: string[] } } | { requestId: string; error: { type: string; message: string } };

/** Sent by the writer to a payment run once its row is written (or failed for good). */
export const ledgerRowWrittenSignal = defineSignal<[LedgerReply]>('ledgerRowWritten');

const STATUSES: readonly string[] = ['updated', 'appended', 'kept-later-payment'];

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.length >= min && v.length <= max;

function resultOf(v: unknown): (LedgerWriteResult & { armadoAfter?: string[] }) | undefined {
  if (!isObject(v) || typeof v.status !== 'string' || !STATUSES.includes(v.status)) return undefined;
  if (typeof v.row !== 'number' || !Number.isSafeInteger(v.row) || v.row < 0) return undefined;
  const after = v.armadoAfter;
  if (after !== undefined && !(Array.isArray(after) && after.length <= 10 && after.every((id) => isText(id, 1, 1000)))) return undefined;
  const result: LedgerWriteResult & { armadoAfter?: string[] } = { status: v.status as LedgerWriteResult['status'], row: v.row };
  if (after !== undefined) result.armadoAfter = [...(after as string[])];
  return result;
}

/** The reply, reduced to its known fields, or undefined when it is not one the writer could have sent. */
export function parseLedgerReply(raw: unknown): LedgerReply | undefined {
  if (!isObject(raw) || !isText(raw.requestId, 1, 200)) return undefined;
  const result = resultOf(raw.result);
  if (result) return { requestId: raw.requestId, result };
  const error = raw.error;
  if (isObject(error) && isText(error.type, 0, 100) && isText(error.message, 0, 2000)) return { requestId: raw.requestId, error: { type: error.type, message: error.message } };
  return undefined;
}
