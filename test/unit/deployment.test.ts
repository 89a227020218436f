// docker-compose.yml, Dockerfile and .env.example cannot run here (no Docker engine): these tests parse them
// and assert what a deployment depends on. The namespace script runs for real against the test dev server.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { parse } from 'yaml';
import { loadConfig, loadIntakeConfig } from '../../src/config';
import { PROJECT_ROOT, resolveTemporalCli } from '../../src/temporal/binaries';
import { DEPLOY_DIR, SERVER_ARGS } from '../../src/temporal/cluster';
import { TEMPORAL_SERVER_VERSION } from '../../src/temporal/server-binaries';

const read = (file: string) => readFileSync(join(PROJECT_ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  env_file?: string | string[];
  ports?: string[];
  expose?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  secrets?: string[];
  container_name?: string;
  working_dir?: string;
  stop_grace_period?: string;
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service>; volumes: Record<string, unknown>; secrets: Record<string, { file: string }> };
const services = compose.services;

/** Every variable of DESIGN §5 (and the §3–§4 ones it refers to). */
const DESIGN_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
  'TEMPO_BASE_URL',
  'TEMPO_DOSSIER',
  'TEMPO_USERNAME',
  'TEMPO_PASSWORD',
  'ARMADO_BASE_URL',
  'ARMADO_API_KEY',
  'ARMADO_TIMEOUT',
  'ARMADO_TIMEZONE',
  'GOOGLE_SHEETS_SPREADSHEET_ID',
  'GOOGLE_SHEETS_SHEET_NAME',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_OAUTH_TOKEN_URL',
  'GOOGLE_SHEETS_BASE_URL',
  'PAYMENT_MODE_MAP',
  'INTAKE_PORT',
  'INTAKE_TOKEN',
  'METRICS_PORT',
];

describe('docker-compose.yml', () => {
  test('has the stack: PostgreSQL, Temporal, schema and admin-tools jobs, Web UI, worker, intake', () => {
    expect(Object.keys(services).sort()).toEqual(['intake', 'postgresql', 'temporal', 'temporal-admin-tools', 'temporal-schema', 'temporal-ui', 'worker']);
  });

  test('every third-party image is pinned to a version, none to latest', () => {
    const images = Object.entries(services).filter(([, s]) => !s.build && s.image !== 'tempo-armado-sync:local');
    expect(images.length).toBe(5);
    for (const [, s] of images) expect(s.image).toMatch(/^[\w./-]+:\d+\.\d+(\.\d+)?[\w.-]*$/);
    expect(services.temporal!.image).toMatch(/^temporalio\/server:1\.\d+\.\d+$/);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:2\.\d+\.\d+$/);
    expect(services['temporal-admin-tools']!.image).toMatch(/^temporalio\/admin-tools:1\.\d+\.\d+/);
  });

  test('long-running services have health checks; start order waits on health and on the one-shot jobs', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'worker', 'intake']) expect(services[name]!.healthcheck?.test.length).toBeGreaterThan(0);
    expect(services['temporal-schema']!.depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(services.temporal!.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    for (const app of ['worker', 'intake']) {
      expect(services[app]!.depends_on).toMatchObject({ temporal: { condition: 'service_healthy' }, 'temporal-admin-tools': { condition: 'service_completed_successfully' } });
    }
  });

  test('the admin-tools job registers the three search attributes of DESIGN §2', () => {
    const job = services['temporal-admin-tools']!;
    expect(job.entrypoint).toEqual(['/bin/sh', '/deploy/create-namespace.sh']);
    expect(job.volumes).toContain('./deploy/temporal:/deploy:ro');
    const script = read('deploy/temporal/create-namespace.sh');
    expect(script).toContain('for attribute in InvoiceNumber PaymentMode SyncOutcome');
    expect(script).toContain('--type Keyword');
  });

  test('named volume for PostgreSQL; the worker scales (no fixed name, no host port); Temporal and the UI on loopback, the intake public', () => {
    expect(Object.keys(compose.volumes)).toEqual(['postgres-data']);
    expect(services.postgresql!.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
    for (const s of Object.values(services)) expect(s.container_name).toBeUndefined();
    expect(services.worker!.ports).toBeUndefined();
    expect(services.worker!.expose).toEqual(['9464']);
    expect(services.worker!.build).toBe('.');
    // Where each published port listens when .env says nothing: compose's own interpolation of the defaults.
    const hostIp = (service: string) =>
      (services[service]!.ports ?? []).map(
        (p) =>
          p
            .replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')
            .split(':')
            .slice(0, -2)
            .join(':') || '0.0.0.0',
      );
    expect(
      Object.keys(services)
        .filter((name) => services[name]!.ports)
        .sort(),
    ).toEqual(['intake', 'temporal', 'temporal-ui']);
    expect(hostIp('temporal')).toEqual(['127.0.0.1']);
    expect(hostIp('temporal-ui')).toEqual(['127.0.0.1']);
    expect(hostIp('intake')).toEqual(['0.0.0.0']); // the one public entry, behind its bearer token
    expect(services.worker!.stop_grace_period).toBe('60s');
  });

  test('configuration comes from .env; secrets are never literals in the file', () => {
    for (const app of ['worker', 'intake']) {
      expect(services[app]!.env_file).toBe('.env');
      expect(services[app]!.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(services.worker!.environment?.GOOGLE_APPLICATION_CREDENTIALS).toBe('/run/secrets/google_service_account');
    expect(services.worker!.secrets).toEqual(['google_service_account']);
    expect(compose.secrets.google_service_account!.file).toBe('${GOOGLE_SERVICE_ACCOUNT_FILE:-./secrets/google-service-account.json}');
    for (const s of Object.values(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        // From .env only: required (`:?`) or empty when unset (`:-`), never a literal default.
        if (/PASSWORD|PWD|TOKEN|KEY|SECRET/.test(key)) expect(String(value)).toMatch(/^\$\{[A-Z_]+(:\?[^}]+|:-)?\}$/);
      }
    }
    expect(services.postgresql!.environment?.POSTGRES_PASSWORD).toBe('${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}');
  });
});

// `npm run cluster` (and its test) run the server built from the Go module with DEPLOY_DIR and SERVER_ARGS;
// compose must run the same version, configuration and scripts, so that what the cluster test proves holds there.
describe('the Temporal server: compose and `npm run cluster` cannot drift apart', () => {
  const temporal = services.temporal!;
  const mount = `./${relative(PROJECT_ROOT, DEPLOY_DIR)}:/deploy:ro`;

  test('same version, same configuration folder, same arguments, same scripts', () => {
    expect(temporal.image).toBe(`temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    for (const job of ['temporal-schema', 'temporal-admin-tools']) {
      expect(services[job]!.image?.startsWith(`temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}-`)).toBe(true);
      expect(services[job]!.volumes).toContain(mount);
    }
    expect(temporal.volumes).toContain(mount);
    expect(temporal.working_dir).toBe('/deploy'); // the dynamic config path is relative, as npm run cluster's cwd
    expect(temporal.entrypoint).toEqual(['temporal-server', '--root', '/deploy', ...SERVER_ARGS]);
    expect(services['temporal-schema']!.entrypoint).toEqual(['/bin/sh', '/deploy/setup-postgres.sh']);
  });

  test('compose gives the server only variables its configuration reads, and every one it needs', () => {
    const template = readFileSync(join(DEPLOY_DIR, 'config', 'cluster.yaml'), 'utf8');
    expect(template.slice(0, 1024)).toContain('enable-template'); // else the server would not render it
    const read = new Set([...template.matchAll(/env "([A-Z_]+)"/g)].map((m) => m[1]));
    const required = [...template.matchAll(/env "([A-Z_]+)" \}\}/g)].map((m) => m[1]); // no default
    const given = Object.keys(temporal.environment ?? {});
    expect(given.filter((v) => !read.has(v))).toEqual([]);
    expect(required.filter((v) => !given.includes(v as string))).toEqual([]);
  });
});

describe('Dockerfile', () => {
  // Instructions with their arguments, continuation lines joined.
  const instructions = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.split(/\s+/)[0]!.length).trim() }));
  const all = (op: string) => instructions.filter((i) => i.op === op).map((i) => i.args);
  const stages = () => {
    const out: { from: string; body: { op: string; args: string }[] }[] = [];
    for (const i of instructions) {
      if (i.op === 'FROM') out.push({ from: i.args, body: [] });
      else out.at(-1)?.body.push(i);
    }
    return out;
  };

  test('multi-stage from a pinned Node 20 image', () => {
    const froms = all('FROM');
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^node:20\.\d+\.\d+-[\w-]+ AS \w+$/);
  });

  test('the build stage compiles and bundles the workflows, then drops dev dependencies', () => {
    const build = stages()[0]!
      .body.map((i) => i.args)
      .join('\n');
    expect(build).toContain('npm run build');
    expect(build).toContain('node dist/src/scripts/bundle-workflows.js dist/workflow-bundle.js');
    expect(build).toContain('npm prune --omit=dev');
  });

  test('the runtime stage: built files only, bundle wired, not root, health check, SIGTERM, worker by default', () => {
    const runtime = stages()[1]!.body;
    const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies.every((c) => c.startsWith('--from=build '))).toBe(true);
    expect(runtime.find((i) => i.op === 'ENV')?.args).toContain('WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js');
    expect(runtime.find((i) => i.op === 'USER')?.args).toBe('node');
    expect(runtime.find((i) => i.op === 'HEALTHCHECK')?.args).toMatch(/CMD \["node", "dist\/src\/scripts\/healthcheck\.js", "worker"\]$/);
    expect(runtime.find((i) => i.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
    expect(runtime.find((i) => i.op === 'CMD')?.args).toBe('["node", "dist/src/scripts/start.js", "--worker-only"]');
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['node_modules', '.env', 'dist', '.git']));
  });
});

describe('.env.example', () => {
  const example = parseEnv(read('.env.example')) as Record<string, string>;

  test('documents every variable of DESIGN §5 and every one docker-compose.yml interpolates', () => {
    const documented = new Set([...Object.keys(example), ...[...read('.env.example').matchAll(/^# ([A-Z_]+)=/gm)].map((m) => m[1])]);
    expect(DESIGN_VARIABLES.filter((v) => !documented.has(v))).toEqual([]);
    const interpolated = [...read('docker-compose.yml').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1] as string);
    expect([...new Set(interpolated)].filter((v) => !documented.has(v))).toEqual([]);
  });

  test('is a configuration the service accepts once the key file exists (placeholders included)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'env-example-'));
    writeFileSync(join(dir, 'key.json'), '{}');
    const config = loadConfig({ ...example, GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'key.json') });
    expect(config.worker).toEqual({ metricsPort: 9464, logLevel: 'INFO', shutdownGraceMs: 30_000, workflowBundle: undefined });
    expect(loadIntakeConfig(example).intake.port).toBe(8787);
  });
});

test('deploy/temporal/create-namespace.sh (the admin-tools job) creates a namespace with the attributes, twice without harm', async () => {
  const cli = resolveTemporalCli();
  if (cli.type !== 'existing-path') throw new Error('the Temporal CLI should have been resolved to a file');
  const namespace = `compose-check-${Date.now()}`;
  const env = { PATH: `${dirname(cli.path)}:${process.env.PATH}`, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS as string, TEMPORAL_NAMESPACE: namespace };
  const run = () => promisify(execFile)('sh', [join(PROJECT_ROOT, 'deploy', 'temporal', 'create-namespace.sh')], { env, timeout: 60_000 });
  expect((await run()).stdout).toContain(`namespace ${namespace} ready`);
  expect((await run()).stdout).toContain('search attribute SyncOutcome already registered');
  const connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS as string });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(['InvoiceNumber', 'PaymentMode', 'SyncOutcome']));
  } finally {
    await connection.close();
  }
});

test("the image's bundle script wrote the bundle every worker process of this run loads (WORKFLOW_BUNDLE)", () => {
  // global-setup runs dist/src/scripts/bundle-workflows.js, as the Dockerfile does; worker processes in
  // observability.test.ts and worker-crash.test.ts start with WORKFLOW_BUNDLE pointing at its output.
  const bundle = readFileSync(process.env.TEST_WORKFLOW_BUNDLE as string, 'utf8');
  expect(bundle).toContain('paymentSyncWorkflow');
  expect(bundle).toContain('paymentLedgerWorkflow');
});
