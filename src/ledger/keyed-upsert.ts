// The ledger's upsert, keyed so that people can edit the sheet while it runs: each invoice's row carries
// developer metadata that Google moves with the row (insert, delete, sort), and rows are written through
// that metadata, never through a row number read earlier. Column A stays the visible key and the fallback.
import { ErrorType, transientFailure } from '../domain/errors';
import { isEarlierLedgerPayment } from '../domain/payment-order';
import { LEDGER_HEADER, type LedgerRow, type LedgerWriteResult } from '../domain/shapes';
import { a1, type DataFilter, type MatchedValueRange, type SheetsClient } from '../apis/sheets';

/** The metadata key that ties a row to its invoice (project-visible: other apps' metadata cannot collide). */
export const LEDGER_ROW_KEY = 'tempo-armado-sync.invoice';
const LAST_COLUMN = String.fromCharCode(64 + LEDGER_HEADER.length); // H

export interface UpsertOptions {
  spreadsheetId: string;
  sheetName: string;
  rows: LedgerRow[];
  /** "Mis à jour" column. */
  now: Date;
  /** ARMADO_TIMEZONE: the ledger's dates are wall clock there (the one order of payments compares instants). */
  timeZone: string;
  /** Called between requests: the activity heartbeats there. */
  progress?: (phase: string) => void;
}

export interface UpsertOutcome {
  /** Per invoice: what happened to its row. */
  results: Record<string, LedgerWriteResult>;
  /** Per invoice: the run whose row the batch wrote (the latest payment); the others' rows were kept out. */
  chosen: Record<string, string>;
  /**
   * Per invoice: the run whose settled payment the row showed before this batch replaced it with another settled
   * payment. That run may still be writing Armado: the new payment's run waits for it (writes to one bill in order).
   */
  displaced: Record<string, string>;
  /** Write requests sent (Google's quota unit). */
  writeRequests: number;
}

const lookup = (sheetId: number, invoiceNumber: string): DataFilter => ({
  developerMetadataLookup: { metadataKey: LEDGER_ROW_KEY, metadataValue: invoiceNumber, locationType: 'ROW', metadataLocation: { sheetId } },
});

/** The 1-based row number at the start of an A1 range such as `'Paiements'!A7:Z7`. */
function firstRowOf(range: string): number {
  const m = /!\$?[A-Z]*\$?(\d+)/.exec(range);
  return m ? Number(m[1]) : 0;
}

/** One row per invoice: the latest payment of the batch in the one order. */
function latestPerInvoice(rows: LedgerRow[], timeZone: string): LedgerRow[] {
  const latest = new Map<string, LedgerRow>();
  for (const row of rows) {
    const current = latest.get(row.invoiceNumber);
    if (!current || !isEarlierLedgerPayment(current, row, timeZone)) latest.set(row.invoiceNumber, row);
  }
  return [...latest.values()];
}

function cellsOf(row: LedgerRow, previous: string[] | undefined, updatedAt: string): (string | number)[] {
  return [
    row.invoiceNumber,
    row.status,
    row.paymentMode,
    row.paymentDate,
    row.amount ?? '',
    // A write that does not know the bill yet must not erase one recorded earlier.
    row.armadoBillId ?? previous?.[5] ?? '',
    updatedAt,
    row.workflowId,
  ];
}

/** What the sheet holds for a row, read back as a LedgerRow-like record for the latest-payment rule. */
function recorded(cells: string[]): { status: string; paymentDate: string; workflowId: string } {
  return { status: (cells[1] ?? '').trim(), paymentDate: cells[3] ?? '', workflowId: (cells[7] ?? '').trim() };
}

/**
 * Upserts the rows: an invoice with a keyed row is written through its metadata; an invoice whose row has
 * no key yet (written by hand or by an older version) gets the key first and is written on the retry that
 * follows; an invoice with no row gets one inserted (with its key) below the last row, in one atomic request.
 * Whenever the sheet changed in a way that leaves a row unwritten, it throws a retryable failure: the retry
 * reads again, so it never writes on a stale row number.
 */
export async function upsertLedgerRows(sheets: SheetsClient, options: UpsertOptions): Promise<UpsertOutcome> {
  const { spreadsheetId, sheetName } = options;
  const sheetId = await sheets.sheetId(spreadsheetId, sheetName);
  const rows = latestPerInvoice(options.rows, options.timeZone);
  const tableFilter: DataFilter = { a1Range: a1(sheetName, `A:${LAST_COLUMN}`) };
  const matched = await sheets.batchGetByDataFilter(spreadsheetId, [tableFilter, ...rows.map((r) => lookup(sheetId, r.invoiceNumber))]);
  options.progress?.('read');

  const isTable = (m: MatchedValueRange) => m.dataFilters.some((f) => 'a1Range' in f);
  const table = matched.find(isTable)?.values ?? [];
  const keyedMatches = new Map<string, MatchedValueRange[]>();
  for (const m of matched) {
    if (isTable(m)) continue;
    for (const f of m.dataFilters) {
      if (!('developerMetadataLookup' in f) || f.developerMetadataLookup.metadataValue === undefined) continue;
      const list = keyedMatches.get(f.developerMetadataLookup.metadataValue) ?? [];
      list.push(m);
      keyedMatches.set(f.developerMetadataLookup.metadataValue, list);
    }
  }
  const firstRowOfInvoice = new Map<string, number>();
  table.forEach((cells, index) => {
    const key = (cells[0] ?? '').trim();
    if (index > 0 && key && !firstRowOfInvoice.has(key)) firstRowOfInvoice.set(key, index + 1);
  });

  const updatedAt = options.now.toISOString();
  const results: Record<string, LedgerWriteResult> = {};
  const displaced: Record<string, string> = {};
  const byFilter: { dataFilter: DataFilter; values: (string | number)[][] }[] = [];
  const structure: Record<string, unknown>[] = [];
  const newRows: LedgerRow[] = [];
  let unfinished = 0;

  for (const row of rows) {
    const matches = keyedMatches.get(row.invoiceNumber) ?? [];
    if (matches.some((m) => (m.values[0]?.[0] ?? '').trim() !== row.invoiceNumber)) {
      // A person re-keyed a row that carries this invoice's key: the key no longer names it. Drop every
      // key of the invoice and find its row again on the retry, rather than write through a wrong key.
      structure.push({ deleteDeveloperMetadata: { dataFilter: lookup(sheetId, row.invoiceNumber) } });
      unfinished += 1;
      continue;
    }
    const keyed = matches[0];
    const legacyRow = keyed ? undefined : firstRowOfInvoice.get(row.invoiceNumber);
    const previous = keyed ? keyed.values[0] : legacyRow !== undefined ? table[legacyRow - 1] : undefined;
    const rowNumber = keyed ? firstRowOf(keyed.range) : legacyRow;
    if (previous && rowNumber !== undefined && isEarlierLedgerPayment(recorded(previous), row, options.timeZone)) {
      results[row.invoiceNumber] = { status: 'kept-later-payment', row: rowNumber };
      continue;
    }
    const before = previous ? recorded(previous) : undefined;
    if (before && before.status === 'Payée' && row.status === 'Payée' && before.workflowId && before.workflowId !== row.workflowId) {
      displaced[row.invoiceNumber] = before.workflowId;
    }
    if (keyed) {
      byFilter.push({ dataFilter: lookup(sheetId, row.invoiceNumber), values: [cellsOf(row, previous, updatedAt)] });
      results[row.invoiceNumber] = { status: 'updated', row: rowNumber as number };
    } else if (legacyRow !== undefined) {
      // Key the row found by column A; its values are written on the retry, once the key is known to sit
      // on this invoice's row (a sort between this read and this write would put it elsewhere).
      structure.push({
        createDeveloperMetadata: {
          developerMetadata: {
            metadataKey: LEDGER_ROW_KEY,
            metadataValue: row.invoiceNumber,
            visibility: 'PROJECT',
            location: { dimensionRange: { sheetId, dimension: 'ROWS', startIndex: legacyRow - 1, endIndex: legacyRow } },
          },
        },
      });
      unfinished += 1;
    } else {
      newRows.push(row);
    }
  }

  if (newRows.length > 0) {
    // Inserted rather than written into "the next empty row": insertion cannot land on a row a person just
    // filled, and the rows, their values and their keys are created in one atomic request.
    const header = table.length === 0;
    const at = header ? 0 : table.length;
    const values = [...(header ? [[...LEDGER_HEADER]] : []), ...newRows.map((r) => cellsOf(r, undefined, updatedAt))];
    structure.push({ insertDimension: { range: { sheetId, dimension: 'ROWS', startIndex: at, endIndex: at + values.length }, inheritFromBefore: false } });
    structure.push({
      updateCells: {
        start: { sheetId, rowIndex: at, columnIndex: 0 },
        fields: 'userEnteredValue',
        rows: values.map((cells) => ({ values: cells.map((v) => ({ userEnteredValue: typeof v === 'number' ? { numberValue: v } : { stringValue: v } })) })),
      },
    });
    newRows.forEach((r, i) => {
      const index = at + (header ? 1 : 0) + i;
      structure.push({
        createDeveloperMetadata: {
          developerMetadata: {
            metadataKey: LEDGER_ROW_KEY,
            metadataValue: r.invoiceNumber,
            visibility: 'PROJECT',
            location: { dimensionRange: { sheetId, dimension: 'ROWS', startIndex: index, endIndex: index + 1 } },
          },
        },
      });
      results[r.invoiceNumber] = { status: 'appended', row: index + 1 };
    });
  }

  let writeRequests = 0;
  if (structure.length > 0) {
    try {
      await sheets.batchUpdateSpreadsheet(spreadsheetId, structure);
    } catch (err) {
      // A 400 here most often means the sheet moved since the read (rows deleted below the insertion point,
      // the tab re-created under the same name): forget the tab id and start again from a fresh read.
      if ((err as { type?: string }).type !== ErrorType.SheetsRequestRejected) throw err;
      sheets.forgetSheetId(spreadsheetId, sheetName);
      throw transientFailure(ErrorType.LedgerChangedDuringWrite, `the sheet changed under the write (${(err as Error).message}); writing again after a fresh read`, 1_000);
    }
    writeRequests += 1;
    options.progress?.('structure written');
  }
  if (byFilter.length > 0) {
    const written = await sheets.batchUpdateByDataFilter(spreadsheetId, byFilter);
    writeRequests += 1;
    options.progress?.('rows written');
    const hit = new Set(written.flatMap((f) => ('developerMetadataLookup' in f && f.developerMetadataLookup.metadataValue ? [f.developerMetadataLookup.metadataValue] : [])));
    // A keyed row deleted by a person after the read takes its key with it: nothing was written for it.
    unfinished += byFilter.filter((d) => 'developerMetadataLookup' in d.dataFilter && !hit.has(d.dataFilter.developerMetadataLookup.metadataValue as string)).length;
  }
  if (unfinished > 0) {
    throw transientFailure(
      ErrorType.LedgerChangedDuringWrite,
      `${unfinished} ledger row(s) could not be written through their key yet (rows keyed, re-keyed or deleted meanwhile); writing again after a fresh read`,
      1_000,
    );
  }
  return { results, writeRequests, chosen: Object.fromEntries(rows.map((r) => [r.invoiceNumber, r.workflowId])), displaced };
}
