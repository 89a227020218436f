// How long a payment run waits for the ledger writer's answer before queuing its row again, from what the writer
// last published about its backlog: long enough not to send a busy writer the same rows again, short when idle.
import { answerWaitMs, backlogDrainMs } from '../../src/workflows/ledger-protocol';

const MINUTE = 60_000;
const TEN_MINUTES = 10 * MINUTE;
const DAYS = 3 * 24 * 60 * MINUTE;

describe('backlogDrainMs: what a row queued now has ahead of it', () => {
  const now = 1_800_000_000_000;

  test('the rows reported, at the pace reported', () => {
    expect(backlogDrainMs({ rows: 3_000, rowsPerSecond: 50, at: now }, now)).toBe(60_000);
  });

  test('what was written since the report is not counted again', () => {
    expect(backlogDrainMs({ rows: 3_000, rowsPerSecond: 50, at: now - 20_000 }, now)).toBe(40_000);
    expect(backlogDrainMs({ rows: 3_000, rowsPerSecond: 50, at: now - 3_600_000 }, now)).toBe(0);
  });

  test('a writer that has not written a full batch yet, or says nothing usable, adds nothing', () => {
    for (const memo of [
      undefined,
      null,
      'busy',
      [],
      {},
      { rows: 3_000, rowsPerSecond: null, at: now },
      { rows: 3_000, rowsPerSecond: 0, at: now },
      { rows: '3000', rowsPerSecond: 50, at: now },
      { rows: 3_000, rowsPerSecond: 50 },
    ]) {
      expect(backlogDrainMs(memo, now)).toBe(0);
    }
  });

  test('a backlog of more than an hour is planned as an hour: past that the writer is down, not behind', () => {
    expect(backlogDrainMs({ rows: 1_000_000, rowsPerSecond: 1, at: now }, now)).toBe(3_600_000);
  });
});

describe('answerWaitMs', () => {
  test('an idle writer: 30 s, then twice as long each time, up to LEDGER_REQUEUE_AFTER', () => {
    expect([1, 2, 3, 4, 5, 6, 30].map((attempt) => answerWaitMs(attempt, 0, TEN_MINUTES, DAYS))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, TEN_MINUTES, TEN_MINUTES]);
  });

  test('a busy writer: at least its backlog and half again, plus the 30 s', () => {
    expect(answerWaitMs(1, 100_000, TEN_MINUTES, DAYS)).toBe(180_000);
    expect(answerWaitMs(2, 100_000, TEN_MINUTES, DAYS)).toBe(180_000);
    expect(answerWaitMs(4, 100_000, TEN_MINUTES, DAYS)).toBe(240_000);
  });

  test("never past LEDGER_REQUEUE_AFTER nor the step's deadline", () => {
    expect(answerWaitMs(1, 3_600_000, TEN_MINUTES, DAYS)).toBe(TEN_MINUTES);
    expect(answerWaitMs(1, 100_000, TEN_MINUTES, 5_000)).toBe(5_000);
  });
});
