#!/usr/bin/env node
// tempo-armado-sync: start, follow and repair payment syncs from a shell. Configuration comes from the
// environment (and .env), like the service's. Exit codes: 0 ok, 1 a run or check failed, 2 bad usage or input.
// Parsing is commander's: each command declares its own options and arguments, so an option another command
// takes (start --strict) is refused instead of ignored, and help is generated from the same declarations.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Client, WorkflowFailedError } from '@temporalio/client';
import {
  describePaymentSync,
  findPaymentSyncs,
  PaymentInputError,
  paymentSyncResult,
  retryArmadoNow,
  startPaymentSync,
  validatePaymentSyncInput,
  type PaymentSyncView,
} from './client/payment-sync-client';
import { ConfigError, loadCallerConfig, loadConfig, loadDotEnv, loadPaymentModeMap, loadTemporalConfig, type Config } from './config';
import { describeFailure } from './domain/errors';
import { BUILT_IN_PAYMENT_MODES, buildPaymentModeTable, normalizePaymentMode } from './domain/payment-modes';
import { runDoctor } from './operations/doctor';
import { readFileSync } from 'node:fs';
import { BackfillFileError, backfillTable, progressBar, readBackfillFile, runBackfill } from './operations/backfill';
import { reapplyLedgerPayment, ReapplyRefused } from './operations/reapply';
import { reconcileNow, reconcileReport } from './operations/reconcile';
import { batchReset, batchResetQuery, DEFAULT_RESET_QUERY, type BatchResetEntry } from './operations/reset';
import { DEV_SERVER_ADDRESS } from './scripts/ports';
import { connectClient, temporalConnectionSettings } from './temporal/connection';

const CONFIGURATION_HELP = `
Configuration: TEMPORAL_ADDRESS (default ${DEV_SERVER_ADDRESS}), TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
TEMPO_DOSSIER, PAYMENT_MODE_MAP; doctor reads everything the worker reads. TLS to Temporal: Temporal's client
configuration (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY, or a temporal.toml profile: TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE).
Exit codes: 0 ok, 1 a run or check failed, 2 bad usage or input. See README.md and docs/api.md.`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** stderr is a terminal: progress redraws one line through `progress`. */
  isTTY?: boolean;
  progress?(line: string): void;
}

/** A number when the flag reads as one; otherwise the text, so that the input's validation names the field. */
function numeric(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return value.trim() !== '' && Number.isFinite(n) ? n : value;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

function startsPerSecond(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new InvalidArgumentError('must be a number of starts per second, above 0 and at most 100.');
  return n;
}

function invoiceNumber(value: string): string {
  if (!/^\d{1,20}$/.test(value)) throw new InvalidArgumentError('must be a Tempo invoice number (digits).');
  return value;
}

async function withClient<T>(temporal: Config['temporal'], env: NodeJS.ProcessEnv, fn: (client: Client) => Promise<T>): Promise<T> {
  const settings = temporalConnectionSettings(temporal, env);
  const connection = await connectClient(settings, { connectTimeout: 5_000 }).catch((err: unknown) => {
    throw new Error(
      `cannot reach Temporal at ${settings.address} (${settings.security}; ${err instanceof Error ? err.message : String(err)}): start it (npm start) or set TEMPORAL_ADDRESS`,
    );
  });
  try {
    return await fn(new Client({ connection, namespace: settings.namespace }));
  } finally {
    await connection.close();
  }
}

function describeView(v: PaymentSyncView): string[] {
  const lines = [`${v.workflowId}  (run ${v.runId})`, `  status   ${v.status}${v.outcome ? ` · SyncOutcome ${v.outcome}` : ''}`];
  if (v.summary) lines.push(`  summary  ${v.summary}`);
  if (v.progress) {
    lines.push(`  step     ${v.progress.currentStep}`);
    for (const [step, s] of Object.entries(v.progress.steps)) {
      const more = s.state === 'failed' ? ` · ${s.errorType}: ${s.message}` : s.state !== 'pending' && s.detail ? ` · ${s.detail}` : '';
      lines.push(`    ${step.padEnd(24)} ${s.state}${more}`);
    }
  }
  if (v.result) lines.push(`  result   ${JSON.stringify(v.result)}`);
  if (v.failure) lines.push(`  failure  ${v.failure.type}: ${v.failure.message}`);
  return lines;
}

/** What every command's action gets: the io, the exit code to set, and the --json printer. */
interface Context {
  io: CliIo;
  print(value: unknown, human: string[]): void;
  json: boolean;
}

type Action<A extends unknown[], O> = (ctx: Context, ...args: [...A, O]) => Promise<number> | number;

/** The program, built per call so that each call parses on its own (tests run several in one process). */
function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('tempo-armado-sync')
    .description('Start, follow and repair the payment syncs of tempo-armado-sync.')
    .addOption(new Option('--json', 'machine-readable output (every command)'))
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError('(tempo-armado-sync --help lists the commands; tempo-armado-sync <command> --help their options)')
    .addHelpText('after', CONFIGURATION_HELP)
    .exitOverride();

  function command<A extends unknown[], O>(spec: Command, action: Action<A, O>): void {
    // Built apart from the program, a command takes its output, exit override and help settings explicitly.
    program.addCommand(
      spec.copyInheritedSettings(program).action(async (...args: unknown[]) => {
        const cmd = args[args.length - 1] as Command;
        const json = Boolean(cmd.optsWithGlobals().json);
        const print = (value: unknown, human: string[]) => (json ? io.out(JSON.stringify(value)) : human.forEach((l) => io.out(l)));
        setExit(await action({ io, print, json }, ...(args.slice(0, -1) as [...A, O])));
      }),
    );
  }

  command<[], Record<string, never>>(new Command('modes').description('accepted payment modes and their Armado paymentType'), ({ io, print }) => {
    const table = [...buildPaymentModeTable(loadPaymentModeMap(io.env))].sort(([a, x], [b, y]) => x - y || a.localeCompare(b));
    const builtIn = new Set(Object.keys(BUILT_IN_PAYMENT_MODES).map(normalizePaymentMode));
    print(
      Object.fromEntries(table),
      table.map(([mode, type]) => `${mode.padEnd(14)} ${type}${builtIn.has(mode) ? '' : '   (PAYMENT_MODE_MAP)'}`),
    );
    return 0;
  });

  interface StartOptions {
    invoice?: string;
    mode?: string;
    date?: string;
    tempoStatus?: string;
    amount?: string;
    dossier?: string;
    paymentId?: string;
    wait?: boolean;
    retryFailed?: boolean;
  }
  command<[], StartOptions>(
    new Command('start')
      .description('start a payment sync (a payment already started is not started again; with --retry-failed, one whose runs failed or were refused is)')
      .option('--invoice <number>', 'the Tempo invoice number')
      .option('--mode <mode>', 'the payment mode (tempo-armado-sync modes lists them)')
      .option('--date <date>', 'the payment date: YYYY-MM-DD, or an ISO date-time')
      .option('--tempo-status <status>', "the HTTP status of Tempo's FACTUREREGLEMENT answer")
      .option('--amount <amount>', 'the amount paid')
      .option('--dossier <dossier>', 'the Tempo dossier (default: TEMPO_DOSSIER)')
      .option('--payment-id <id>', "Tempo's payment id (tells two payments of one day apart)")
      .option('--wait', "wait for the run's result; exit 1 if it failed")
      .option('--retry-failed', 'start again a payment whose runs failed or were refused'),
    async ({ io, print, json }, values) => {
      const caller = loadCallerConfig(io.env);
      const input = Object.fromEntries(
        Object.entries({
          invoiceNumber: values.invoice,
          paymentMode: values.mode,
          paymentDate: values.date,
          tempoStatus: numeric(values.tempoStatus),
          amount: numeric(values.amount),
          dossier: values.dossier,
          paymentId: values.paymentId,
        }).filter(([, v]) => v !== undefined),
      );
      const paymentModes = buildPaymentModeTable(caller.paymentModes);
      validatePaymentSyncInput(input, paymentModes); // before any connection: bad input changes nothing
      return withClient(caller.temporal, io.env, async (client) => {
        const started = await startPaymentSync(client, input, {
          taskQueue: caller.temporal.taskQueue,
          defaultDossier: caller.defaultDossier,
          paymentModes,
          retryFailed: values.retryFailed ?? false,
        });
        const { workflowId, runId, duplicate, existing } = started;
        const failedBefore = existing?.failureType ? ` its run failed (${existing.failureType}); start it again with --retry-failed` : '';
        print({ workflowId, runId, duplicate, existing }, [`${duplicate ? `already started (nothing new):${failedBefore}` : 'started:'} ${workflowId} (run ${runId})`]);
        if (!values.wait) return 0;
        return showResult(client, workflowId, io, json);
      });
    },
  );

  command<[string], object>(
    new Command('status').description('where a run is (or every run of an invoice)').argument('<target>', 'a workflow id or an invoice number'),
    ({ io, print }, id) =>
      withClient(loadTemporalConfig(io.env), io.env, async (client) => {
        if (/^\d+$/.test(id)) {
          const runs = await findPaymentSyncs(client, id);
          print(runs, runs.length ? runs.map((r) => `${r.workflowId}  ${r.status}  ${r.outcome ?? '-'}  ${r.summary ?? ''}`) : [`no payment sync for invoice ${id}`]);
          return runs.length ? 0 : 1;
        }
        const view = await describePaymentSync(client, id);
        if (!view) {
          io.err(`no payment sync ${id}`);
          return 1;
        }
        print(view, describeView(view));
        return view.status === 'FAILED' || view.status === 'TERMINATED' || view.status === 'TIMED_OUT' ? 1 : 0;
      }),
  );

  command<[string], object>(
    new Command('result').description("wait for a run's result; exit 1 if it failed").argument('<workflowId>', "the run's workflow id"),
    ({ io, json }, id) => withClient(loadTemporalConfig(io.env), io.env, (client) => showResult(client, id, io, json)),
  );

  command<[string], object>(
    new Command('retry-armado')
      .description('a run waiting for its Armado bill looks again now')
      .argument('<target>', 'a workflow id, or an invoice number (every running sync of it)'),
    ({ io, print }, id) =>
      withClient(loadTemporalConfig(io.env), io.env, async (client) => {
        const ids = /^\d+$/.test(id) ? (await findPaymentSyncs(client, id)).filter((r) => r.status === 'RUNNING').map((r) => r.workflowId) : [id];
        if (ids.length === 0) {
          io.err(`no running payment sync for invoice ${id}`);
          return 1;
        }
        for (const workflowId of ids) await retryArmadoNow(client, workflowId);
        print(
          { signalled: ids },
          ids.map((w) => `retryArmadoNow sent to ${w}`),
        );
        return 0;
      }),
  );

  command<[], { invoice?: string }>(
    new Command('doctor')
      .description('check Temporal, Tempo, Armado and Sheets with the current configuration')
      .option('--invoice <number>', 'also look this invoice up in Tempo and Armado', invoiceNumber),
    async ({ io, print }, values) => {
      let config: Config;
      try {
        config = loadConfig(io.env);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        print({ ok: false, problems: err.problems }, ['FAIL config   ', ...err.problems.map((p) => `       ${p}`)]);
        return 1;
      }
      const checks = await runDoctor(config, { env: io.env, probeInvoice: values.invoice });
      print(
        checks,
        checks.map((c) => `${c.ok ? 'OK  ' : 'FAIL'} ${c.name.padEnd(9)} ${c.message}`),
      );
      return checks.every((c) => c.ok) ? 0 : 1;
    },
  );

  command<[], { query?: string; failureType?: string; dryRun?: boolean; limit?: number; reason: string }>(
    new Command('reset-failed')
      .description('re-run failed runs after their cause was fixed')
      .option('--query <query>', `a visibility query (default: ${DEFAULT_RESET_QUERY})`)
      .option('--failure-type <type>', 'only runs that failed with this error type')
      .option('--dry-run', 'list what would be reset, reset nothing')
      .option('--limit <n>', 'reset at most n runs', positiveInteger)
      .option('--reason <reason>', "the reset's reason, shown in the Web UI", 're-run after fix'),
    ({ io, json }, values) => {
      const dryRun = values.dryRun ?? false;
      return withClient(loadTemporalConfig(io.env), io.env, async (client) => {
        io.err(`${dryRun ? 'dry run: ' : ''}${batchResetQuery(values.query)}${values.failureType ? ` with failure type ${values.failureType}` : ''}`);
        const entries = await batchReset(client, { query: values.query, failureType: values.failureType, reason: values.reason, dryRun, limit: values.limit });
        const count = (action: BatchResetEntry['action']) => entries.filter((e) => e.action === action).length;
        for (const e of entries) {
          const what = e.action === 'reset' ? `reset → new run ${e.newRunId}` : e.action === 'would-reset' ? 'would reset' : `${e.action}: ${e.why ?? ''}`;
          io.out(json ? JSON.stringify(e) : `${e.invoiceNumber ?? '?'}\t${e.workflowId}\t${e.failureType ?? '-'}\t${what}`);
        }
        io.err(
          `${entries.length} run(s) matched: ${dryRun ? `${count('would-reset')} would be reset` : `${count('reset')} reset`}, ${count('skipped')} skipped, ${count('error')} error(s)`,
        );
        return count('error') > 0 ? 1 : 0;
      });
    },
  );

  command<[], { dryRun?: boolean; invoice?: string }>(
    new Command('reconcile')
      .description('compare the ledger with Tempo and Armado now, start the syncs that are certain, report the rest')
      .option('--dry-run', 'start and write nothing')
      .option('--invoice <number>', 'only this invoice', invoiceNumber),
    ({ io, print }, values) => {
      const temporal = loadTemporalConfig(io.env);
      return withClient(temporal, io.env, async (client) => {
        const summary = await reconcileNow(client, { taskQueue: temporal.taskQueue, dryRun: values.dryRun ?? false, invoice: values.invoice });
        print(summary, reconcileReport(summary));
        return 0;
      });
    },
  );

  command<[string], { strict?: boolean; rate: number; retryFailed?: boolean }>(
    new Command('backfill')
      .description(
        'start the syncs of past payments listed in FILE (CSV or JSON lines: invoice, mode, date, amount, payment id); every line is validated first; payments already synced are skipped, payments whose runs failed or were refused are reported',
      )
      .argument('<file>', 'CSV or JSON lines')
      .option('--strict', 'nothing starts if one line is bad')
      .option('--rate <r>', 'starts per second', startsPerSecond, 5)
      .option('--retry-failed', 'start again the payments whose runs failed or were refused'),
    ({ io, print }, file, values) => {
      const caller = loadCallerConfig(io.env);
      const paymentModes = buildPaymentModeTable(caller.paymentModes);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new BackfillFileError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const lines = readBackfillFile(file, text, { defaultDossier: caller.defaultDossier, paymentModes });
      const invalid = lines.filter((l) => l.problems);
      for (const l of invalid) io.err(`line ${l.line}: ${(l.problems ?? []).map((p) => `${p.field}: ${p.message}`).join('; ')}`);
      if (values.strict && invalid.length > 0) {
        io.err(`${invalid.length} of ${lines.length} line(s) invalid; --strict: nothing started`);
        return 2;
      }
      return withClient(caller.temporal, io.env, async (client) => {
        let lastPrint = 0;
        const report = await runBackfill(client, lines, {
          taskQueue: caller.temporal.taskQueue,
          defaultDossier: caller.defaultDossier,
          paymentModes,
          retryFailed: values.retryFailed ?? false,
          ratePerSecond: values.rate,
          onProgress: (p) => {
            // A live bar on a terminal; a line every 5 s (and the last) in a log.
            if (io.isTTY) io.progress?.(progressBar(p));
            else if (Date.now() - lastPrint >= 5_000 || p.done === p.total) {
              lastPrint = Date.now();
              io.err(progressBar(p));
            }
          },
        });
        if (io.isTTY) io.progress?.('');
        print(report, backfillTable(report));
        return report.invalid + report.failedToStart + report.failedBefore > 0 ? 1 : 0;
      });
    },
  );

  command<[], { invoice: string; dryRun?: boolean }>(
    new Command('reapply-ledger')
      .description("put the ledger's payment back on the invoice's Armado bill (after an armado-disagrees finding: the reconciliation reports, it never overwrites Armado itself)")
      .requiredOption('--invoice <number>', 'the Tempo invoice number', invoiceNumber)
      .option('--dry-run', 'show what would be sent, send nothing'),
    async ({ io, print }, values) => {
      const config = loadConfig(io.env);
      const invoice = values.invoice;
      // A run of the invoice still open will write the bill itself, in the order of its payments: not over it.
      const open = await withClient(config.temporal, io.env, async (client) => (await findPaymentSyncs(client, invoice)).filter((r) => r.status === 'RUNNING'));
      if (open.length > 0) {
        throw new ReapplyRefused(`a payment sync of invoice ${invoice} is still running (${open[0]?.workflowId}); let it finish, then reconcile again`);
      }
      const outcome = await reapplyLedgerPayment(config, invoice, { dryRun: values.dryRun ?? false });
      const what = {
        updated: 'Armado bill updated',
        'already-up-to-date': 'Armado bill already carries it: nothing sent',
        'would-update': 'dry run: would update the Armado bill',
      }[outcome.status];
      print(outcome, [
        `${what}: invoice ${outcome.invoiceNumber}, bill ${outcome.billId}`,
        `  ledger  ${outcome.ledger.paymentMode} on ${outcome.ledger.paymentDate} → paymentType ${outcome.ledger.paymentType}, ${outcome.ledger.armadoDate}`,
        `  before  paymentType ${outcome.before.paymentType ?? '-'}, ${outcome.before.paymentDate ?? '-'}`,
      ]);
      return 0;
    },
  );

  return program;
}

/** Runs one command line; every outcome is an exit code (0 ok, 1 a run or check failed, 2 bad usage or input). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    // Commander has printed its own message (and help) through configureOutput already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof PaymentInputError) {
      io.err(`${err.type}:`);
      for (const p of err.problems) io.err(`  ${p.field}: ${p.message}`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof BackfillFileError) {
      io.err(err.message);
      return 2;
    }
    if (err instanceof ReapplyRefused) {
      io.err(`reapply-ledger: ${err.message}`);
      return 1;
    }
    io.err(`tempo-armado-sync: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

async function showResult(client: Client, workflowId: string, io: CliIo, json: boolean): Promise<number> {
  try {
    const result = await paymentSyncResult(client, workflowId);
    io.out(json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
    return 0;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const failure = describeFailure(err);
    if (json) io.out(JSON.stringify({ failure }));
    io.err(`${workflowId} failed: ${failure.type}: ${failure.message}`);
    return 1;
  }
}

if (require.main === module) {
  loadDotEnv();
  const io: CliIo = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    env: process.env,
    isTTY: process.stderr.isTTY,
    progress: (l) => process.stderr.write(`\r\x1b[2K${l}`),
  };
  void runCli(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
