// `tempo-armado-sync backfill FILE`: payments the service never saw (they predate it, or their trigger was
// lost), read from CSV or JSON lines, every line validated before anything starts, then started at a
// bounded rate through the same idempotent start as every other caller: a payment already started is
// skipped, so running the same file again (after a crash, say) starts only what is missing.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { parse } from 'csv-parse/sync';
import { PaymentInputError, paymentWorkflowId, startPaymentSync, validatePaymentSyncInput, type StartPaymentSyncOptions } from '../client/payment-sync-client';
import type { InputProblem, PaymentSyncInput } from '../domain/payment-input';
import type { PaymentModeTable } from '../domain/payment-modes';

/** Column names a file may use for each PaymentSyncInput field (case, spaces, "_" and "-" ignored). */
const FIELD_ALIASES: Record<string, keyof PaymentSyncInput> = {
  invoice: 'invoiceNumber',
  invoicenumber: 'invoiceNumber',
  facture: 'invoiceNumber',
  idfacture: 'invoiceNumber',
  mode: 'paymentMode',
  paymentmode: 'paymentMode',
  date: 'paymentDate',
  paymentdate: 'paymentDate',
  amount: 'amount',
  montant: 'amount',
  paymentid: 'paymentId',
  dossier: 'dossier',
  tempostatus: 'tempoStatus',
};
const ACCEPTED_COLUMNS = 'invoice, mode, date, amount, payment id (also invoiceNumber, paymentMode, paymentDate, paymentId, dossier, tempoStatus)';

const fieldOf = (column: string) => FIELD_ALIASES[column.toLowerCase().replace(/[\s_-]+/g, '')];

export interface BackfillLine {
  /** 1-based line number in the file. */
  line: number;
  input?: PaymentSyncInput;
  workflowId?: string;
  problems?: InputProblem[];
  /** An earlier line of the file is the same payment (same workflow id). */
  duplicateOf?: number;
}

export class BackfillFileError extends Error {}

/** Text cells as the schema expects them: numbers where a number is due; anything else is left for it to name. */
function typed(field: keyof PaymentSyncInput, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text === '') return undefined;
  if (field === 'amount' && /^\d+([.,]\d{1,2})?$/.test(text)) return Number(text.replace(',', '.'));
  if (field === 'tempoStatus' && /^\d+$/.test(text)) return Number(text);
  return text;
}

function toInput(record: Record<string, unknown>): { raw: Record<string, unknown>; unknown: string[] } {
  const raw: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [column, value] of Object.entries(record)) {
    const field = fieldOf(column);
    if (!field) {
      unknown.push(column);
      continue;
    }
    const v = typed(field, value);
    if (v !== undefined) raw[field] = v;
  }
  // The payments of a backfill are the ones Tempo recorded: its FACTUREREGLEMENT answered 200.
  if (raw.tempoStatus === undefined) raw.tempoStatus = 200;
  return { raw, unknown };
}

function detectFormat(name: string, text: string): 'csv' | 'jsonl' {
  if (/\.(jsonl|ndjson|json)$/i.test(name)) return 'jsonl';
  if (/\.csv$/i.test(name)) return 'csv';
  return text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

type RawLine = { line: number; record?: Record<string, unknown>; error?: string };

function records(name: string, text: string): RawLine[] {
  if (detectFormat(name, text) === 'jsonl') {
    return text.split(/\r?\n/).flatMap((content, i): RawLine[] => {
      if (content.trim() === '') return [];
      try {
        const value: unknown = JSON.parse(content);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return [{ line: i + 1, error: 'must be a JSON object' }];
        return [{ line: i + 1, record: value as Record<string, unknown> }];
      } catch {
        return [{ line: i + 1, error: 'is not valid JSON' }];
      }
    });
  }
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  // French spreadsheets export with ";" (the comma is their decimal mark).
  const delimiter = firstLine.includes(';') && !firstLine.includes(',') ? ';' : ',';
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(text, { columns: true, delimiter, skip_empty_lines: true, trim: true, bom: true, info: true, relax_column_count: true });
  } catch (err) {
    throw new BackfillFileError(`the file is not readable CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  return rows.map((r) => ({ line: r.info.lines, record: r.record }));
}

/** Every line of the file, validated; nothing is started here. */
export function readBackfillFile(name: string, text: string, options: { defaultDossier: string; paymentModes: PaymentModeTable }): BackfillLine[] {
  const seen = new Map<string, number>();
  const lines: BackfillLine[] = [];
  for (const { line, record, error } of records(name, text)) {
    if (error || !record) {
      lines.push({ line, problems: [{ field: '(line)', message: error ?? 'unreadable' }] });
      continue;
    }
    const { raw, unknown } = toInput(record);
    if (unknown.length > 0) {
      lines.push({ line, problems: [{ field: unknown.join(', '), message: `unknown column; accepted columns: ${ACCEPTED_COLUMNS}` }] });
      continue;
    }
    try {
      const input = validatePaymentSyncInput(raw, options.paymentModes);
      const workflowId = paymentWorkflowId(input, options.defaultDossier);
      const first = seen.get(workflowId);
      if (first === undefined) seen.set(workflowId, line);
      lines.push({ line, input, workflowId, duplicateOf: first });
    } catch (err) {
      if (!(err instanceof PaymentInputError)) throw err;
      lines.push({ line, problems: err.problems });
    }
  }
  if (lines.length === 0) throw new BackfillFileError('the file has no payment lines');
  return lines;
}

/** `failed-before`: the payment's run failed or was refused; `--retry-failed` runs it again. */
export type BackfillOutcome = 'started' | 'already-done' | 'failed-before' | 'invalid' | 'failed-to-start';

export interface BackfillReport {
  total: number;
  started: number;
  alreadyDone: number;
  failedBefore: number;
  invalid: number;
  failedToStart: number;
  lines: { line: number; outcome: BackfillOutcome; workflowId?: string; why?: string }[];
}

export interface BackfillProgress {
  done: number;
  total: number;
  ratePerSecond: number;
  etaSeconds: number;
}

/**
 * Starts the valid lines' syncs, `ratePerSecond` at most. A payment whose workflow id already exists (started
 * earlier, by anyone) is not started again: already done when that run is running or synced, failed before when it
 * failed or was refused — unless `retryFailed`, which starts it again.
 */
export async function runBackfill(
  client: Client,
  lines: BackfillLine[],
  options: StartPaymentSyncOptions & { ratePerSecond: number; onProgress?: (p: BackfillProgress) => void },
): Promise<BackfillReport> {
  const report: BackfillReport = { total: lines.length, started: 0, alreadyDone: 0, failedBefore: 0, invalid: 0, failedToStart: 0, lines: [] };
  const toStart = lines.filter((l) => l.input && l.duplicateOf === undefined);
  const began = Date.now();
  const interval = 1000 / options.ratePerSecond;
  let done = 0;
  for (const l of lines) {
    if (!l.input) {
      report.invalid += 1;
      report.lines.push({ line: l.line, outcome: 'invalid', why: (l.problems ?? []).map((p) => `${p.field}: ${p.message}`).join('; ') });
    } else if (l.duplicateOf !== undefined) {
      report.alreadyDone += 1;
      report.lines.push({ line: l.line, outcome: 'already-done', workflowId: l.workflowId, why: `same payment as line ${l.duplicateOf}` });
    }
  }
  for (const l of toStart) {
    // Evenly spaced starts: the i-th may go at began + i × interval.
    const wait = began + done * interval - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      const started = await startPaymentSync(client, l.input, options);
      if (!started.duplicate) {
        report.started += 1;
        report.lines.push({ line: l.line, outcome: 'started', workflowId: started.workflowId });
      } else if (started.existing?.failureType) {
        // Its run failed or was refused: nothing was synced, so it is not done (and --retry-failed runs it again).
        report.failedBefore += 1;
        report.lines.push({ line: l.line, outcome: 'failed-before', workflowId: started.workflowId, why: `failed before (${started.existing.failureType})` });
      } else {
        report.alreadyDone += 1;
        report.lines.push({ line: l.line, outcome: 'already-done', workflowId: started.workflowId });
      }
    } catch (err) {
      report.failedToStart += 1;
      report.lines.push({ line: l.line, outcome: 'failed-to-start', workflowId: l.workflowId, why: err instanceof Error ? err.message : String(err) });
    }
    done += 1;
    const elapsed = (Date.now() - began) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    options.onProgress?.({ done, total: toStart.length, ratePerSecond: rate, etaSeconds: rate > 0 ? (toStart.length - done) / rate : 0 });
  }
  report.lines.sort((a, b) => a.line - b.line);
  return report;
}

/** `[########------------]  120/500  4.9/s  ETA 1m17s` */
export function progressBar(p: BackfillProgress, width = 24): string {
  const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
  const eta = Math.round(p.etaSeconds);
  const etaText = eta >= 60 ? `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s` : `${eta}s`;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(p.done).padStart(String(p.total).length)}/${p.total}  ${p.ratePerSecond.toFixed(1)}/s  ETA ${etaText}`;
}

/** The final table an operator reads: counts, then each line that failed to start. */
export function backfillTable(report: BackfillReport): string[] {
  const rows: [string, number][] = [
    ['started', report.started],
    ['already done', report.alreadyDone],
    ['failed before', report.failedBefore],
    ['invalid', report.invalid],
    ['failed to start', report.failedToStart],
    ['total lines', report.total],
  ];
  const problems = report.lines
    .filter((l) => l.outcome === 'failed-to-start' || l.outcome === 'failed-before')
    .map((l) =>
      l.outcome === 'failed-before'
        ? `line ${l.line}: ${l.why ?? 'failed before'} (${l.workflowId}); run again with --retry-failed`
        : `line ${l.line}: failed to start: ${l.why ?? ''}`,
    );
  return [...rows.map(([label, n]) => `${label.padEnd(16)} ${String(n).padStart(6)}`), ...problems];
}
