// The command line's parsing, in process: each command takes its own options, and anything it does not take
// is refused with exit 2 before a connection is tried (Temporal's address here is a port nobody listens on:
// a command that got past parsing would answer "cannot reach Temporal" with exit 1).
import { createServer } from 'node:net';
import { runCli, type CliIo } from '../../src/cli';

let closedAddress = '';
beforeAll(async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedAddress = `127.0.0.1:${(server.address() as { port: number }).port}`;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), env: { TEMPORAL_ADDRESS: closedAddress, TEMPO_DOSSIER: 'D1' } };
  const code = await runCli(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const START = ['start', '--invoice', '91001', '--mode', 'virement', '--date', '2024-01-15', '--tempo-status', '200'];

test('a well-formed start gets past parsing (and fails only on the unreachable server)', async () => {
  const started = await cli(...START);
  expect(started.code).toBe(1);
  expect(started.err).toContain('cannot reach Temporal');
});

test.each([
  ['an option of another command (backfill --strict on start)', [...START, '--strict'], "unknown option '--strict'"],
  ['an option of another command (--rate on reconcile)', ['reconcile', '--rate', '5'], "unknown option '--rate'"],
  ['an unknown option', [...START, '--no-such-flag'], "unknown option '--no-such-flag'"],
  ['an unknown command', ['frobnicate'], "unknown command 'frobnicate'"],
  ['a missing target', ['status'], "missing required argument 'target'"],
  ['an extra argument', ['status', '91001', '91002'], 'too many arguments'],
  ['a limit that is not a positive integer', ['reset-failed', '--limit', '0'], '--limit'],
  ['a rate out of range', ['backfill', 'payments.csv', '--rate', '0'], '--rate'],
  ['an invoice that is not a number', ['reconcile', '--invoice', 'F-12'], '--invoice'],
  ['no command', [], 'Usage: tempo-armado-sync'],
])('%s: refused with exit 2 and a message naming it, nothing tried', async (_what, argv, message) => {
  const refused = await cli(...argv);
  expect(refused.code).toBe(2);
  expect(refused.err).toContain(message);
  expect(refused.err).not.toContain('cannot reach Temporal');
});

test('bad payment input names the field and its accepted values, before any connection', async () => {
  const refused = await cli('start', '--invoice', '91001', '--mode', 'troc', '--date', '2024-01-15', '--tempo-status', '200');
  expect(refused.code).toBe(2);
  expect(refused.err).toContain('paymentMode: "troc" is not a known payment mode; accepted modes:');
  expect(refused.err).not.toContain('cannot reach Temporal');
});

test('help: the command list, and each command with its own options only', async () => {
  const help = await cli('--help');
  expect(help.code).toBe(0);
  for (const command of ['start', 'status', 'result', 'retry-armado', 'modes', 'doctor', 'reset-failed', 'reconcile', 'backfill', 'reapply-ledger']) {
    expect(help.out).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  }
  const start = await cli('start', '--help');
  expect(start.code).toBe(0);
  expect(start.out).toContain('--tempo-status');
  expect(start.out).toContain('--json');
  expect(start.out).not.toContain('--failure-type');
  expect(start.out).not.toContain('--strict');
  expect((await cli('help', 'backfill')).out).toContain('--strict');
});

test('--json is taken before or after the command', async () => {
  for (const argv of [
    ['modes', '--json'],
    ['--json', 'modes'],
  ]) {
    const modes = await cli(...argv);
    expect(modes.code).toBe(0);
    expect(JSON.parse(modes.out)).toMatchObject({ cheque: 1, virement: 2 });
  }
});
