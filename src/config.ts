// The environment schema (DESIGN §5): every variable validated once at start-up, secrets never echoed.
import { existsSync } from 'node:fs';
import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { isValidTimeZone } from './domain/dates';
import { normalizePaymentMode } from './domain/payment-modes';

export const DEFAULT_TASK_QUEUE = 'payment-sync';
export const DEFAULT_METRICS_PORT = 9464;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** https everywhere; plain http only to loopback, where the sandboxes and tests live. */
const baseUrl = (fallback?: string) => {
  const schema = z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be an absolute URL, e.g. https://host/path' });
        return;
      }
      if (url.protocol === 'https:') return;
      if (url.protocol === 'http:' && isLoopback(url.hostname)) return;
      ctx.addIssue({ code: 'custom', message: 'must use https:// (plain http:// is accepted only for a loopback host)' });
    })
    .transform((value) => value.replace(/\/+$/, ''));
  return fallback === undefined ? schema : schema.default(fallback);
};

const duration = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((value, ctx) => {
      try {
        const ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
        if (ms > 0) return ms;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: 'must be a positive duration such as "30s", "15m", "3d"' });
      return z.NEVER;
    });

const seconds = (fallback: number, max: number) =>
  z.coerce.number().positive('must be a positive number of seconds').max(max, `must be at most ${max} seconds (activities time out after that)`).default(fallback);

const secret = z.string().min(1, 'must not be empty');

const paymentModeMap = z
  .string()
  .default('{}')
  .transform((text, ctx) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object such as {"lcr": 9}' });
      return z.NEVER;
    }
    const table = z.record(z.string().trim().min(1), z.number().int().positive()).safeParse(parsed);
    if (!table.success) {
      ctx.addIssue({ code: 'custom', message: 'must map mode names to positive integer Armado paymentTypes, e.g. {"lcr": 9}' });
      return z.NEVER;
    }
    return Object.fromEntries(Object.entries(table.data).map(([mode, type]) => [normalizePaymentMode(mode), type]));
  });

/**
 * Each bill search costs a few history events (activity, timer); past this many searches a run's history
 * would approach the server's limits, so such a schedule is refused at start-up.
 */
export const MAX_BILL_SEARCHES = 1_000;

/** Every night at 03:00 in ARMADO_TIMEZONE. */
export const DEFAULT_RECONCILE_CRON = '0 3 * * *';
const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[^\s]+(\s+[^\s]+){4})$/;

/** The environment, variable by variable (DESIGN §5); pickable, so that each process role reads only its part. */
export const EnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().trim().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default(DEFAULT_TASK_QUEUE),

  TEMPO_BASE_URL: baseUrl(),
  TEMPO_DOSSIER: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"'),
  TEMPO_USERNAME: secret,
  TEMPO_PASSWORD: secret,
  TEMPO_TIMEOUT: seconds(10, 90),

  ARMADO_BASE_URL: baseUrl('https://api.myarmado.fr'),
  ARMADO_API_KEY: secret,
  ARMADO_TIMEOUT: seconds(10, 90),
  ARMADO_TIMEZONE: z.string().trim().default('Europe/Paris').refine(isValidTimeZone, 'must be an IANA time zone such as Europe/Paris'),
  ARMADO_BILL_RETRY_INTERVAL: duration('15m'),
  ARMADO_BILL_RETRY_FOR: duration('3d'),

  GOOGLE_SHEETS_SPREADSHEET_ID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be the spreadsheet id from its URL'),
  GOOGLE_SHEETS_SHEET_NAME: z.string().trim().min(1).max(100).default('Paiements'),
  GOOGLE_APPLICATION_CREDENTIALS: z.string().trim().min(1).optional(),
  GOOGLE_SHEETS_CREDENTIALS_FILE: z.string().trim().min(1).optional(),
  GOOGLE_OAUTH_TOKEN_URL: baseUrl('https://oauth2.googleapis.com/token'),
  GOOGLE_SHEETS_BASE_URL: baseUrl('https://sheets.googleapis.com'),
  GOOGLE_SHEETS_TIMEOUT: seconds(20, 90),

  LEDGER_BATCH_WINDOW: duration('2s').pipe(z.number().max(600_000, 'must be at most 10m (the writer gathers rows no longer)')),
  LEDGER_MAX_BATCH: z.coerce.number().int().min(1).max(1000).default(200),
  // Well below Temporal's 50k-event limit; lower values are for tests that exercise the rollover.
  LEDGER_ROLLOVER_EVENTS: z.coerce.number().int().min(100).max(40_000).default(4_000),
  // Rows carried through the writer's continue-as-new (payload bound); the others are queued again by their runs.
  LEDGER_MAX_CARRIED: z.coerce.number().int().min(0).max(1_000).default(500),
  // A run that has no answer from the writer this long queues its row again (a lost reply, a long outage).
  LEDGER_REQUEUE_AFTER: duration('10m'),

  PAYMENT_MODE_MAP: paymentModeMap,

  // Nightly reconciliation (a Temporal Schedule, in ARMADO_TIMEZONE); an empty value turns it off.
  RECONCILE_CRON: z
    .string()
    .trim()
    .default(DEFAULT_RECONCILE_CRON)
    .refine((v) => v === '' || CRON.test(v), 'must be a cron expression of 5 fields such as "0 3 * * *", an @daily-style shortcut, or empty (off)'),
  // Tempo and Armado calls per second each, for the reconciliation (the payment runs are not paced).
  RECONCILE_RATE: z.coerce.number().positive('must be a positive number of calls per second').max(100, 'must be at most 100 calls per second').default(5),
  RECONCILE_SHEET_NAME: z.string().trim().min(1).max(100).default('Rapprochement'),
  // Every settled row is checked against Armado at least once in this period: a slice of the ledger each night.
  RECONCILE_FULL_SWEEP: duration('30d').pipe(
    z
      .number()
      .min(86_400_000, 'must be at least 1d (one slice per day)')
      .max(366 * 86_400_000, 'must be at most 366d'),
  ),

  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_METRICS_PORT),
  LOG_LEVEL: z
    .string()
    .trim()
    .toUpperCase()
    .default('INFO')
    .pipe(z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'], { error: 'must be one of TRACE, DEBUG, INFO, WARN, ERROR' })),
  WORKER_SHUTDOWN_GRACE: duration('30s'),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).optional(),
  // 0 turns the backlog gauges off; below a few seconds the visibility store would do little else.
  BACKLOG_SAMPLE_INTERVAL: z
    .string()
    .trim()
    .default('60s')
    .transform((value, ctx) => {
      if (value === '0') return 0;
      try {
        const ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
        // Above 5 minutes the BacklogNotSampled alert (10 minutes without a sample) would fire between samples.
        if (ms >= 1_000 && ms <= 300_000) return ms;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: 'must be 0 (off) or a duration from 1s to 5m, such as "60s"' });
      return z.NEVER;
    }),
  WORKFLOW_BUNDLE: z.string().trim().min(1).optional(),
});

/** Checked apart from the schema (which stays pickable by the callers' loaders), reported with the rest. */
function billSearchProblem(e: RawConfig): string | undefined {
  if (e.ARMADO_BILL_RETRY_FOR / e.ARMADO_BILL_RETRY_INTERVAL <= MAX_BILL_SEARCHES) return undefined;
  return `ARMADO_BILL_RETRY_INTERVAL: must be at least ARMADO_BILL_RETRY_FOR / ${MAX_BILL_SEARCHES} (${Math.ceil(e.ARMADO_BILL_RETRY_FOR / MAX_BILL_SEARCHES / 1000)}s here): more searches would grow a run's history past the server's limits`;
}

/** Checked apart from the schema so that it is reported together with every other problem. */
function credentialsProblem(env: NodeJS.ProcessEnv): string | undefined {
  const file = env.GOOGLE_APPLICATION_CREDENTIALS?.trim() || env.GOOGLE_SHEETS_CREDENTIALS_FILE?.trim();
  if (!file) return 'GOOGLE_APPLICATION_CREDENTIALS: must name the service-account key file (or set GOOGLE_SHEETS_CREDENTIALS_FILE)';
  if (!existsSync(file)) return 'GOOGLE_APPLICATION_CREDENTIALS: names a file that does not exist';
  return undefined;
}

export type RawConfig = z.output<typeof EnvSchema>;

/** The Temporal triplet, from the environment's names to the service's: written once, for every role. */
const temporalOf = (e: Pick<RawConfig, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TASK_QUEUE'>) => ({
  /** Unset: the embedded dev server (npm start) or DEV_SERVER_ADDRESS. */
  address: e.TEMPORAL_ADDRESS,
  namespace: e.TEMPORAL_NAMESPACE,
  taskQueue: e.TEMPORAL_TASK_QUEUE,
});

/** The worker's configuration: the environment schema whose output is the service's shape. */
export const ConfigSchema = EnvSchema.transform((e) => ({
  temporal: temporalOf(e),
  tempo: { baseUrl: e.TEMPO_BASE_URL, dossier: e.TEMPO_DOSSIER, username: e.TEMPO_USERNAME, password: e.TEMPO_PASSWORD, timeoutMs: e.TEMPO_TIMEOUT * 1000 },
  armado: {
    baseUrl: e.ARMADO_BASE_URL,
    apiKey: e.ARMADO_API_KEY,
    timeoutMs: e.ARMADO_TIMEOUT * 1000,
    timeZone: e.ARMADO_TIMEZONE,
    billSearch: { intervalMs: e.ARMADO_BILL_RETRY_INTERVAL, giveUpAfterMs: e.ARMADO_BILL_RETRY_FOR },
  },
  sheets: {
    spreadsheetId: e.GOOGLE_SHEETS_SPREADSHEET_ID,
    sheetName: e.GOOGLE_SHEETS_SHEET_NAME,
    // Present: checked with the rest of the configuration (credentialsProblem).
    credentialsFile: (e.GOOGLE_APPLICATION_CREDENTIALS ?? e.GOOGLE_SHEETS_CREDENTIALS_FILE) as string,
    tokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
    baseUrl: e.GOOGLE_SHEETS_BASE_URL,
    timeoutMs: e.GOOGLE_SHEETS_TIMEOUT * 1000,
  },
  ledger: {
    batchWindowMs: e.LEDGER_BATCH_WINDOW,
    maxBatch: e.LEDGER_MAX_BATCH,
    rolloverAfterEvents: e.LEDGER_ROLLOVER_EVENTS,
    maxCarried: e.LEDGER_MAX_CARRIED,
    requeueAfterMs: e.LEDGER_REQUEUE_AFTER,
  },
  worker: {
    metricsPort: e.METRICS_PORT,
    logLevel: e.LOG_LEVEL,
    /** How long in-flight activities may run on after SIGTERM before they are cancelled. */
    shutdownGraceMs: e.WORKER_SHUTDOWN_GRACE,
    /**
     * Runs kept in the worker's memory between their workflow tasks; unset, the SDK's own default (from the heap
     * limit: about 2,300 with a 4 GiB heap). A run not kept is replayed from its history at its next task: measured,
     * 1,000 payments took 66 s with 250 kept against 55 s with all, for the same memory. Lower it to bound memory.
     */
    maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
    /** How often the worker samples the backlog for its gauges (operations/backlog.ts); 0: never. */
    backlogSampleIntervalMs: e.BACKLOG_SAMPLE_INTERVAL,
    /** A workflow bundle built ahead (the container image); otherwise bundled at start. */
    workflowBundle: e.WORKFLOW_BUNDLE,
  },
  paymentModes: e.PAYMENT_MODE_MAP,
  reconcile: {
    /** Undefined: no schedule (RECONCILE_CRON set empty). */
    cron: e.RECONCILE_CRON || undefined,
    ratePerSecond: e.RECONCILE_RATE,
    sheetName: e.RECONCILE_SHEET_NAME,
    fullSweepMs: e.RECONCILE_FULL_SWEEP,
  },
}));

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function problemsOf(error: z.ZodError, env: NodeJS.ProcessEnv): string[] {
  return error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    const message = issue.code === 'invalid_type' && env[name] === undefined ? 'is required' : issue.message;
    return `${name}: ${message}`;
  });
}

function loadPart<K extends keyof RawConfig>(env: NodeJS.ProcessEnv, keys: K[]): Pick<RawConfig, K> {
  const mask = Object.fromEntries(keys.map((k) => [k, true])) as Record<string, true>;
  const parsed = EnvSchema.pick(mask as never).safeParse(env);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error, env));
  return parsed.data as unknown as Pick<RawConfig, K>;
}

/** Only the Temporal part, for operator tools that never call Tempo, Armado or Sheets. */
export function loadTemporalConfig(env: NodeJS.ProcessEnv = process.env): Config['temporal'] {
  return temporalOf(loadPart(env, ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE']));
}

/** What a caller that starts syncs needs (CLI, intake): Temporal, the default dossier, the payment modes. */
export interface CallerConfig {
  temporal: Config['temporal'];
  defaultDossier: string;
  paymentModes: Record<string, number>;
}

export function loadCallerConfig(env: NodeJS.ProcessEnv = process.env): CallerConfig {
  const e = loadPart(env, ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'TEMPO_DOSSIER', 'PAYMENT_MODE_MAP']);
  return {
    temporal: temporalOf(e),
    defaultDossier: e.TEMPO_DOSSIER,
    paymentModes: e.PAYMENT_MODE_MAP,
  };
}

/** PAYMENT_MODE_MAP alone (normalised mode → Armado paymentType), for tools that only list modes. */
export function loadPaymentModeMap(env: NodeJS.ProcessEnv = process.env): Record<string, number> {
  return loadPart(env, ['PAYMENT_MODE_MAP']).PAYMENT_MODE_MAP;
}

export const DEFAULT_INTAKE_PORT = 8787;
const IntakeSchema = z.object({
  INTAKE_PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_INTAKE_PORT),
  INTAKE_TOKEN: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required: the intake refuses to start without a bearer token' : 'must be a string') })
    .trim()
    .min(16, 'must be at least 16 characters (use a random secret, e.g. `openssl rand -hex 32`)'),
});

export interface IntakeConfig extends CallerConfig {
  intake: { port: number; token: string };
}

/** The intake's configuration; every problem (caller part and intake part) is reported at once. */
export function loadIntakeConfig(env: NodeJS.ProcessEnv = process.env): IntakeConfig {
  const problems: string[] = [];
  let caller: CallerConfig | undefined;
  try {
    caller = loadCallerConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const intake = IntakeSchema.safeParse(env);
  if (!intake.success) {
    problems.push(...intake.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`));
  }
  if (!caller || !intake.success || problems.length > 0) throw new ConfigError(problems);
  return { ...caller, intake: { port: intake.data.INTAKE_PORT, token: intake.data.INTAKE_TOKEN } };
}

/** Parses `env`; on failure throws a ConfigError with one line per variable and never the value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  const problems = parsed.success ? [] : problemsOf(parsed.error, env);
  const credentials = credentialsProblem(env);
  if (credentials) problems.push(credentials);
  const billSearch = parsed.success ? billSearchProblem(parsed.data) : undefined;
  if (billSearch) problems.push(billSearch);
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return ConfigSchema.parse(env);
}

/** What each step's activity may take, derived from the HTTP timeouts it contains (settled per run by confirmTempoUpdate). */
export interface StepTimeouts {
  /** checkInvoiceFullyPaid: one FACTURE read. */
  tempoCallMs: number;
  /** findArmadoBill: one search; updateArmadoBillPayment: a search and a PUT. */
  armadoCallMs: number;
  /** The writer's batch: token, tab id, read and two writes, each possibly sent twice (a 401 gets a fresh token). */
  ledgerWriteMs: number;
  /** How long a run waits for the writer's answer before queuing its row again. */
  ledgerRequeueMs: number;
}

/** The margin above the HTTP deadlines: the attempt's own timeouts always fire before Temporal's. */
const STEP_MARGIN_MS = 5_000;

export function stepTimeouts(config: Pick<Config, 'tempo' | 'armado' | 'sheets' | 'ledger'>): StepTimeouts {
  return {
    tempoCallMs: Math.round(config.tempo.timeoutMs + STEP_MARGIN_MS),
    armadoCallMs: Math.round(config.armado.timeoutMs + STEP_MARGIN_MS),
    ledgerWriteMs: Math.round(10 * config.sheets.timeoutMs + 2 * STEP_MARGIN_MS),
    ledgerRequeueMs: config.ledger.requeueAfterMs,
  };
}

/** Reads `.env` from the working directory when present; real environment variables win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
