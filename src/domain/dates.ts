// Payment dates: the input's two accepted forms and their renderings for Armado, Tempo and the ledger.

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function isRealCalendarDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

export type PaymentDate = { kind: 'date'; year: number; month: number; day: number } | { kind: 'instant'; epochMs: number };

/** Returns undefined when the text is neither `YYYY-MM-DD` nor an ISO 8601 date-time with an offset. */
export function parsePaymentDate(text: string): PaymentDate | undefined {
  const dateOnly = DATE_ONLY.exec(text);
  if (dateOnly) {
    const [year, month, day] = dateOnly.slice(1, 4).map(Number) as [number, number, number];
    return isRealCalendarDate(year, month, day) ? { kind: 'date', year, month, day } : undefined;
  }
  const dateTime = DATE_TIME.exec(text);
  if (!dateTime) return undefined;
  const [year, month, day, hour, minute] = dateTime.slice(1, 6).map(Number) as [number, number, number, number, number];
  const second = Number(dateTime[6] ?? '0');
  const offset = dateTime[7] as string;
  if (!isRealCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  if (offset !== 'Z' && (Number(offset.slice(1, 3)) > 14 || Number(offset.slice(4, 6)) > 59)) return undefined;
  const epochMs = Date.parse(text);
  return Number.isNaN(epochMs) ? undefined : { kind: 'instant', epochMs };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** Building a formatter loads the zone's rules (about a millisecond); the ledger writer reads thousands of dates a batch. */
const formats = new Map<string, Intl.DateTimeFormat>();
function wallClockFormat(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(timeZone, format);
  }
  return format;
}

/** Wall-clock reading of a payment date in `timeZone`; a bare date is midnight there. */
export function toWallClock(date: PaymentDate, timeZone: string): WallClock {
  if (date.kind === 'date') return { year: date.year, month: date.month, day: date.day, hour: 0, minute: 0, second: 0 };
  const parts = wallClockFormat(timeZone).formatToParts(new Date(date.epochMs));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

/**
 * The instants a wall-clock reading in `timeZone` denotes, earliest first: one as a rule, two in the hour the clocks
 * go back (that hour happens twice), none in the hour they skip (then the instant the same offset as before gives).
 */
export function wallClockInstants(w: WallClock, timeZone: string): number[] {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  const offsetAt = (epochMs: number) => {
    const seen = toWallClock({ kind: 'instant', epochMs }, timeZone);
    return Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute, seen.second) - epochMs;
  };
  // Every offset in use within a day either side; each candidate that reads back as `w` is an instant it denotes.
  const offsets = new Set([offsetAt(asUtc - 86_400_000), offsetAt(asUtc), offsetAt(asUtc + 86_400_000)]);
  const found = [...offsets].map((o) => asUtc - o).filter((t) => offsetAt(t) === asUtc - t);
  if (found.length > 0) return [...new Set(found)].sort((a, b) => a - b);
  return [asUtc - offsetAt(asUtc - 86_400_000)];
}

/** Armado's `paymentDate`: `YYYY-MM-DDTHH:mm:ss.000000`, wall-clock in the Armado time zone. */
export function formatArmadoDate(w: WallClock): string {
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}.000000`;
}

/** The ledger's human reading: `YYYY-MM-DD HH:mm` (or just the date when no time was given). */
export function formatLedgerDate(w: WallClock, dateOnly: boolean): string {
  const day = `${w.year}-${pad(w.month)}-${pad(w.day)}`;
  return dateOnly ? day : `${day} ${pad(w.hour)}:${pad(w.minute)}`;
}

/**
 * A ledger date (`YYYY-MM-DD`, `YYYY-MM-DD HH:mm`, with `:ss` when the seconds are not zero, and an offset in the
 * hour the clocks go back) as Armado's wall-clock `paymentDate`; undefined when it does not read so.
 */
export function ledgerDateAsArmado(text: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(:\d{2})?)?(?:\s*[+-]\d{2}:\d{2})?$/.exec(text.trim());
  return m ? `${m[1]}T${m[2] ?? '00:00'}${m[3] ?? ':00'}.000000` : undefined;
}

/** Tempo's `AAAAMMJJ`. */
export function formatTempoDate(w: Pick<WallClock, 'year' | 'month' | 'day'>): string {
  return `${w.year}${pad(w.month)}${pad(w.day)}`;
}

/** Two Armado dates denote the same moment when they agree to the second, whatever fraction or suffix follows. */
export function sameArmadoDate(a: string | null | undefined, b: string): boolean {
  if (!a) return false;
  return a.replace(' ', 'T').slice(0, 19) === b.slice(0, 19);
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
