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

/** A key on one row (0-based `index`): Google moves it with the row through inserts, deletes and sorts. */
function keyRow(sheetId: number, invoiceNumber: string, index: number): Record<string, unknown> {
  return {
    createDeveloperMetadata: {
      developerMetadata: {
        metadataKey: LEDGER_ROW_KEY,
        metadataValue: invoiceNumber,
        visibility: 'PROJECT',
        location: { dimensionRange: { sheetId, dimension: 'ROWS', startIndex: index, endIndex: index + 1 } },
      },
    },
  };
}

const ledgerChanged = (message: string) => transientFailure(ErrorType.LedgerChangedDuringWrite, message, 1_000);

/** The batch's rows, and what the sheet held for them when read. */
interface LedgerRead {
  sheetId: number;
  /** One row per invoice: the ones this batch writes. */
  rows: LedgerRow[];
  /** The whole table, header included. */
  table: string[][];
  /** Per invoice: the ranges its key points at. */
  keyedMatches: Map<string, MatchedValueRange[]>;
  /** Per invoice: the first row (1-based, below the header) whose column A names it. */
  firstRowOfInvoice: Map<string, number>;
}

/** Reads the table and every invoice's keyed row in one request, so both describe the same moment of the sheet. */
async function readLedger(sheets: SheetsClient, options: UpsertOptions): Promise<LedgerRead> {
  const { spreadsheetId, sheetName } = options;
  const sheetId = await sheets.sheetId(spreadsheetId, sheetName);
  const rows = latestPerInvoice(options.rows, options.timeZone);
  const tableFilter: DataFilter = { a1Range: a1(sheetName, `A:${LAST_COLUMN}`) };
  const matched = await sheets.batchGetByDataFilter(spreadsheetId, [tableFilter, ...rows.map((r) => lookup(sheetId, r.invoiceNumber))]);
  options.progress?.('read');
  const isTable = (m: MatchedValueRange) => m.dataFilters.some((f) => 'a1Range' in f);
  const table = matched.find(isTable)?.values ?? [];
  return { sheetId, rows, table, keyedMatches: byInvoiceKey(matched.filter((m) => !isTable(m))), firstRowOfInvoice: firstRowByColumnA(table) };
}

function byInvoiceKey(keyed: MatchedValueRange[]): Map<string, MatchedValueRange[]> {
  const matches = new Map<string, MatchedValueRange[]>();
  for (const m of keyed) {
    for (const f of m.dataFilters) {
      if (!('developerMetadataLookup' in f) || f.developerMetadataLookup.metadataValue === undefined) continue;
      const list = matches.get(f.developerMetadataLookup.metadataValue) ?? [];
      list.push(m);
      matches.set(f.developerMetadataLookup.metadataValue, list);
    }
  }
  return matches;
}

function firstRowByColumnA(table: string[][]): Map<string, number> {
  const first = new Map<string, number>();
  table.forEach((cells, index) => {
    const key = (cells[0] ?? '').trim();
    if (index > 0 && key && !first.has(key)) first.set(key, index + 1);
  });
  return first;
}

/** What one attempt writes, in the order it is sent, and what it tells the caller once written. */
interface UpsertPlan {
  results: Record<string, LedgerWriteResult>;
  chosen: Record<string, string>;
  displaced: Record<string, string>;
  /** Keys dropped or added and rows inserted: one spreadsheets.batchUpdate, applied together or not at all. */
  structure: Record<string, unknown>[];
  /** Values written through each invoice's key. */
  byFilter: { dataFilter: DataFilter; values: (string | number)[][] }[];
  /** Rows this attempt cannot write yet (their key is being dropped or added): the retry writes them. */
  deferred: number;
}

/** An invoice's row as read: found through its key, or by column A alone (no key yet). */
interface FoundRow {
  keyed: boolean;
  /** 1-based. */
  row: number;
  cells: string[] | undefined;
}

function findRow(invoiceNumber: string, keyed: MatchedValueRange | undefined, ledger: LedgerRead): FoundRow | undefined {
  if (keyed) return { keyed: true, row: firstRowOf(keyed.range), cells: keyed.values[0] };
  const legacyRow = ledger.firstRowOfInvoice.get(invoiceNumber);
  return legacyRow === undefined ? undefined : { keyed: false, row: legacyRow, cells: ledger.table[legacyRow - 1] };
}

/** The run whose settled payment the row showed, when this row replaces it with another run's settled payment. */
function displacedRun(cells: string[] | undefined, row: LedgerRow): string | undefined {
  const before = cells ? recorded(cells) : undefined;
  return before && before.status === 'Payée' && row.status === 'Payée' && before.workflowId && before.workflowId !== row.workflowId ? before.workflowId : undefined;
}

/** Decides every row's write from what was read; sends nothing. */
function planUpsert(ledger: LedgerRead, updatedAt: string, timeZone: string): UpsertPlan {
  const { sheetId, rows } = ledger;
  const chosen = Object.fromEntries(rows.map((r) => [r.invoiceNumber, r.workflowId]));
  const plan: UpsertPlan = { results: {}, chosen, displaced: {}, structure: [], byFilter: [], deferred: 0 };
  const newRows: LedgerRow[] = [];
  for (const row of rows) {
    const matches = ledger.keyedMatches.get(row.invoiceNumber) ?? [];
    if (matches.some((m) => (m.values[0]?.[0] ?? '').trim() !== row.invoiceNumber)) {
      // A person re-keyed a row that carries this invoice's key: the key no longer names it. Drop every
      // key of the invoice and find its row again on the retry, rather than write through a wrong key.
      plan.structure.push({ deleteDeveloperMetadata: { dataFilter: lookup(sheetId, row.invoiceNumber) } });
      plan.deferred += 1;
      continue;
    }
    const found = findRow(row.invoiceNumber, matches[0], ledger);
    if (found?.cells && isEarlierLedgerPayment(recorded(found.cells), row, timeZone)) {
      plan.results[row.invoiceNumber] = { status: 'kept-later-payment', row: found.row };
      continue;
    }
    const displaced = displacedRun(found?.cells, row);
    if (displaced) plan.displaced[row.invoiceNumber] = displaced;
    if (!found) {
      newRows.push(row);
    } else if (found.keyed) {
      plan.byFilter.push({ dataFilter: lookup(sheetId, row.invoiceNumber), values: [cellsOf(row, found.cells, updatedAt)] });
      plan.results[row.invoiceNumber] = { status: 'updated', row: found.row };
    } else {
      // Key the row found by column A; its values are written on the retry, once the key is known to sit
      // on this invoice's row (a sort between this read and this write would put it elsewhere).
      plan.structure.push(keyRow(sheetId, row.invoiceNumber, found.row - 1));
      plan.deferred += 1;
    }
  }
  if (newRows.length > 0) {
    const inserted = planInsert(newRows, ledger, updatedAt);
    plan.structure.push(...inserted.structure);
    Object.assign(plan.results, inserted.results);
  }
  return plan;
}

/**
 * Inserted rather than written into "the next empty row": insertion cannot land on a row a person just
 * filled, and the rows, their values and their keys are created in one atomic request.
 */
function planInsert(newRows: LedgerRow[], ledger: LedgerRead, updatedAt: string): Pick<UpsertPlan, 'structure' | 'results'> {
  const { sheetId, table } = ledger;
  const structure: Record<string, unknown>[] = [];
  const results: Record<string, LedgerWriteResult> = {};
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
    structure.push(keyRow(sheetId, r.invoiceNumber, index));
    results[r.invoiceNumber] = { status: 'appended', row: index + 1 };
  });
  return { structure, results };
}

/** Sends the plan, the structure first: a sheet that moved under it stops the attempt before any value is written. */
async function applyPlan(sheets: SheetsClient, options: UpsertOptions, plan: UpsertPlan): Promise<{ writeRequests: number; unwritten: number }> {
  let writeRequests = 0;
  if (plan.structure.length > 0) {
    await writeStructure(sheets, options, plan.structure);
    writeRequests += 1;
    options.progress?.('structure written');
  }
  if (plan.byFilter.length === 0) return { writeRequests, unwritten: 0 };
  const written = await sheets.batchUpdateByDataFilter(options.spreadsheetId, plan.byFilter);
  options.progress?.('rows written');
  const hit = new Set(written.flatMap((f) => ('developerMetadataLookup' in f && f.developerMetadataLookup.metadataValue ? [f.developerMetadataLookup.metadataValue] : [])));
  // A keyed row deleted by a person after the read takes its key with it: nothing was written for it.
  const unwritten = plan.byFilter.filter((d) => 'developerMetadataLookup' in d.dataFilter && !hit.has(d.dataFilter.developerMetadataLookup.metadataValue as string)).length;
  return { writeRequests: writeRequests + 1, unwritten };
}

async function writeStructure(sheets: SheetsClient, options: UpsertOptions, structure: Record<string, unknown>[]): Promise<void> {
  try {
    await sheets.batchUpdateSpreadsheet(options.spreadsheetId, structure);
  } catch (err) {
    // A 400 here most often means the sheet moved since the read (rows deleted below the insertion point,
    // the tab re-created under the same name): forget the tab id and start again from a fresh read.
    if ((err as { type?: string }).type !== ErrorType.SheetsRequestRejected) throw err;
    sheets.forgetSheetId(options.spreadsheetId, options.sheetName);
    throw ledgerChanged(`the sheet changed under the write (${(err as Error).message}); writing again after a fresh read`);
  }
}

/**
 * Upserts the rows: an invoice with a keyed row is written through its metadata; an invoice whose row has
 * no key yet (written by hand or by an older version) gets the key first and is written on the retry that
 * follows; an invoice with no row gets one inserted (with its key) below the last row, in one atomic request.
 * Whenever the sheet changed in a way that leaves a row unwritten, it throws a retryable failure: the retry
 * reads again, so it never writes on a stale row number.
 */
export async function upsertLedgerRows(sheets: SheetsClient, options: UpsertOptions): Promise<UpsertOutcome> {
  const ledger = await readLedger(sheets, options);
  const plan = planUpsert(ledger, options.now.toISOString(), options.timeZone);
  const { writeRequests, unwritten } = await applyPlan(sheets, options, plan);
  const unfinished = plan.deferred + unwritten;
  if (unfinished > 0) {
    throw ledgerChanged(`${unfinished} ledger row(s) could not be written through their key yet (rows keyed, re-keyed or deleted meanwhile); writing again after a fresh read`);
  }
  return { results: plan.results, writeRequests, chosen: plan.chosen, displaced: plan.displaced };
}
