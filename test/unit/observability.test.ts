import { formatLogLine } from '../../src/observability';

describe('JSON log lines', () => {
  const entry = (meta: Record<string, unknown>) => ({ level: 'INFO' as const, message: 'hello', timestampNanos: 1_705_311_000_000_000_000n, meta });

  test('time, level, msg first; SDK fields renamed to workflowId, runId, invoice, activity; no task token', () => {
    const line = JSON.parse(
      formatLogLine(entry({ workflowId: 'w', workflowRunId: 'r', invoiceNumber: '20664', activityType: 'findArmadoBill', attempt: 2, taskToken: 'CiQw...' })),
    ) as Record<string, unknown>;
    expect(line).toEqual({ time: '2024-01-15T09:30:00.000Z', level: 'INFO', msg: 'hello', workflowId: 'w', runId: 'r', invoice: '20664', activity: 'findArmadoBill', attempt: 2 });
    expect(Object.keys(line).slice(0, 3)).toEqual(['time', 'level', 'msg']);
  });

  test('errors become name and message; a configured secret never survives, wherever it hides', () => {
    const text = formatLogLine(entry({ error: new Error('login refused for p@ssw0rd-123'), url: 'https://x?key=p@ssw0rd-123' }), ['p@ssw0rd-123']);
    expect(text).not.toContain('p@ssw0rd-123');
    expect(JSON.parse(text)).toMatchObject({ error: { name: 'Error', message: 'login refused for [redacted]' }, url: 'https://x?key=[redacted]' });
  });
});
