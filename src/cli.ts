#!/usr/bin/env node
// tempo-armado-sync: start, follow and repair payment syncs from a shell. Configuration comes from the
// environment (and .env), like the service's. Exit codes: 0 ok, 1 a run or check failed, 2 bad usage or input.
import { parseArgs } from 'node:util';
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

const USAGE = `usage: tempo-armado-sync <command> [options]

  start --invoice N --mode M --date D --tempo-status S [--amount A] [--dossier X] [--payment-id P] [--wait] [--retry-failed]
                          start a payment sync (a payment already started is not started again; with
                          --retry-failed, one whose runs failed or were refused is)
  status <workflowId|invoiceNumber>
                          where a run is (or every run of an invoice)
  result <workflowId>     wait for a run's result; exit 1 if it failed
  retry-armado <workflowId|invoiceNumber>
                          a run waiting for its Armado bill looks again now
  modes                   accepted payment modes and their Armado paymentType
  doctor [--invoice N]    check Temporal, Tempo, Armado and Sheets with the current configuration
  reset-failed [--query Q] [--failure-type T] [--dry-run] [--limit N] [--reason R]
                          re-run failed runs after their cause was fixed (default query: ${DEFAULT_RESET_QUERY})
  reconcile [--dry-run] [--invoice N]
                          compare the ledger with Tempo and Armado now, start the syncs that are certain,
                          report the rest (--dry-run: start and write nothing)
  backfill FILE [--strict] [--rate R] [--retry-failed]
                          start the syncs of past payments listed in FILE (CSV or JSON lines: invoice, mode,
                          date, amount, payment id); every line is validated first (--strict: nothing starts
                          if one is bad); R starts per second (default 5); payments already synced are skipped,
                          payments whose runs failed or were refused are reported (--retry-failed: started again)
  reapply-ledger --invoice N [--dry-run]
                          put the ledger's payment back on the invoice's Armado bill (after an armado-disagrees
                          finding: the reconciliation reports, it never overwrites Armado itself)

  --json                  machine-readable output (every command)
Configuration: TEMPORAL_ADDRESS (default ${DEV_SERVER_ADDRESS}), TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
TEMPO_DOSSIER, PAYMENT_MODE_MAP; doctor reads everything the worker reads. TLS to Temporal: Temporal's client
configuration (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY, or a temporal.toml profile: TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE).
See README.md and docs/api.md.`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** stderr is a terminal: progress redraws one line through `progress`. */
  isTTY?: boolean;
  progress?(line: string): void;
}

class UsageError extends Error {}

const OPTIONS = {
  invoice: { type: 'string' },
  mode: { type: 'string' },
  date: { type: 'string' },
  'tempo-status': { type: 'string' },
  amount: { type: 'string' },
  dossier: { type: 'string' },
  'payment-id': { type: 'string' },
  wait: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  query: { type: 'string' },
  'failure-type': { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  limit: { type: 'string' },
  reason: { type: 'string', default: 're-run after fix' },
  strict: { type: 'boolean', default: false },
  rate: { type: 'string' },
  'retry-failed': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** A number when the flag reads as one; otherwise the text, so that validation names the field. */
function numeric(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return value.trim() !== '' && Number.isFinite(n) ? n : value;
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

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [command, target, ...extra] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  const json = values.json;
  const print = (value: unknown, human: string[]) => (json ? io.out(JSON.stringify(value)) : human.forEach((l) => io.out(l)));
  const needTarget = () => {
    if (!target) throw new UsageError(`${command} needs a workflow id or an invoice number`);
    return target;
  };

  switch (command) {
    case 'modes': {
      const table = [...buildPaymentModeTable(loadPaymentModeMap(io.env))].sort(([a, x], [b, y]) => x - y || a.localeCompare(b));
      const builtIn = new Set(Object.keys(BUILT_IN_PAYMENT_MODES).map(normalizePaymentMode));
      print(
        Object.fromEntries(table),
        table.map(([mode, type]) => `${mode.padEnd(14)} ${type}${builtIn.has(mode) ? '' : '   (PAYMENT_MODE_MAP)'}`),
      );
      return 0;
    }

    case 'start': {
      const caller = loadCallerConfig(io.env);
      const input = Object.fromEntries(
        Object.entries({
          invoiceNumber: values.invoice,
          paymentMode: values.mode,
          paymentDate: values.date,
          tempoStatus: numeric(values['tempo-status']),
          amount: numeric(values.amount),
          dossier: values.dossier,
          paymentId: values['payment-id'],
        }).filter(([, v]) => v !== undefined),
      );
      const paymentModes = buildPaymentModeTable(caller.paymentModes);
      validatePaymentSyncInput(input, paymentModes); // before any connection: bad input changes nothing
      return withClient(caller.temporal, io.env, async (client) => {
        const started = await startPaymentSync(client, input, {
          taskQueue: caller.temporal.taskQueue,
          defaultDossier: caller.defaultDossier,
          paymentModes,
          retryFailed: values['retry-failed'],
        });
        const { workflowId, runId, duplicate, existing } = started;
        const failedBefore = existing?.failureType ? ` its run failed (${existing.failureType}); start it again with --retry-failed` : '';
        print({ workflowId, runId, duplicate, existing }, [`${duplicate ? `already started (nothing new):${failedBefore}` : 'started:'} ${workflowId} (run ${runId})`]);
        if (!values.wait) return 0;
        return showResult(client, workflowId, io, json);
      });
    }

    case 'status': {
      const id = needTarget();
      const temporal = loadTemporalConfig(io.env);
      return withClient(temporal, io.env, async (client) => {
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
      });
    }

    case 'result': {
      const id = needTarget();
      return withClient(loadTemporalConfig(io.env), io.env, (client) => showResult(client, id, io, json));
    }

    case 'retry-armado': {
      const id = needTarget();
      return withClient(loadTemporalConfig(io.env), io.env, async (client) => {
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
      });
    }

    case 'doctor': {
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
    }

    case 'reset-failed': {
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError('--limit: must be a positive integer');
      const dryRun = values['dry-run'];
      return withClient(loadTemporalConfig(io.env), io.env, async (client) => {
        io.err(`${dryRun ? 'dry run: ' : ''}${batchResetQuery(values.query)}${values['failure-type'] ? ` with failure type ${values['failure-type']}` : ''}`);
        const entries = await batchReset(client, { query: values.query, failureType: values['failure-type'], reason: values.reason, dryRun, limit });
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
    }

    case 'reconcile': {
      if (values.invoice !== undefined && !/^\d{1,20}$/.test(values.invoice)) throw new UsageError('--invoice: must be a Tempo invoice number (digits)');
      return withClient(loadTemporalConfig(io.env), io.env, async (client) => {
        const summary = await reconcileNow(client, { taskQueue: loadTemporalConfig(io.env).taskQueue, dryRun: values['dry-run'], invoice: values.invoice });
        print(summary, reconcileReport(summary));
        return 0;
      });
    }

    case 'backfill': {
      if (!target) throw new UsageError('backfill needs a file: CSV or JSON lines');
      const rate = values.rate === undefined ? 5 : Number(values.rate);
      if (!Number.isFinite(rate) || rate <= 0 || rate > 100) throw new UsageError('--rate: must be a number of starts per second, above 0 and at most 100');
      const caller = loadCallerConfig(io.env);
      const paymentModes = buildPaymentModeTable(caller.paymentModes);
      let text: string;
      try {
        text = readFileSync(target, 'utf8');
      } catch (err) {
        throw new BackfillFileError(`cannot read ${target}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const lines = readBackfillFile(target, text, { defaultDossier: caller.defaultDossier, paymentModes });
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
          retryFailed: values['retry-failed'],
          ratePerSecond: rate,
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
    }

    case 'reapply-ledger': {
      if (!values.invoice || !/^\d{1,20}$/.test(values.invoice)) throw new UsageError('--invoice: must be a Tempo invoice number (digits)');
      const config = loadConfig(io.env);
      const invoice = values.invoice;
      // A run of the invoice still open will write the bill itself, in the order of its payments: not over it.
      const open = await withClient(config.temporal, io.env, async (client) => (await findPaymentSyncs(client, invoice)).filter((r) => r.status === 'RUNNING'));
      if (open.length > 0) {
        throw new ReapplyRefused(`a payment sync of invoice ${invoice} is still running (${open[0]?.workflowId}); let it finish, then reconcile again`);
      }
      const outcome = await reapplyLedgerPayment(config, invoice, { dryRun: values['dry-run'] });
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
    }

    default:
      throw new UsageError(`unknown command "${command}"`);
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
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof PaymentInputError) {
        io.err(`${err.type}:`);
        for (const p of err.problems) io.err(`  ${p.field}: ${p.message}`);
      } else if (err instanceof ConfigError || err instanceof BackfillFileError) {
        io.err(err.message);
      } else if (err instanceof ReapplyRefused) {
        io.err(`reapply-ledger: ${err.message}`);
        process.exitCode = 1;
        return;
      } else if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
        io.err(`${err.message}\n\n${USAGE}`);
      } else {
        io.err(`tempo-armado-sync: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
        return;
      }
      process.exitCode = 2;
    },
  );
}
