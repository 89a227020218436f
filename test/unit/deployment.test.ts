// What a deployment runs that can run here: the .env a newcomer copies is accepted by the service, the
// namespace script works against a real server, the image's bundle script produced what workers load. (The
// compose server's entrypoint and environment run for real in the cluster tests: test/cluster/compose.ts.)
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { loadConfig, loadIntakeConfig } from '../../src/config';
import { PROJECT_ROOT, resolveTemporalCli } from '../../src/temporal/binaries';

const read = (file: string) => readFileSync(join(PROJECT_ROOT, file), 'utf8');

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
    expect(config.worker).toEqual({
      metricsPort: 9464,
      logLevel: 'INFO',
      shutdownGraceMs: 30_000,
      maxCachedWorkflows: undefined,
      backlogSampleIntervalMs: 60_000,
      workflowBundle: undefined,
    });
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

describe('the image carries the service only', () => {
  test('what the image compiles (tsconfig.build.json from src/) reaches no sandbox, cluster supervision, demo, test or bench', async () => {
    // tsc follows imports: a file of src/ importing dev/ would pull it into the image's program.
    const { stdout } = await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(PROJECT_ROOT, 'tsconfig.build.json'), '--listFilesOnly'], {
      cwd: PROJECT_ROOT,
      maxBuffer: 64 << 20,
    });
    const own = stdout
      .split('\n')
      .filter((f) => f.startsWith(PROJECT_ROOT) && !f.includes('/node_modules/'))
      .map((f) => f.slice(PROJECT_ROOT.length + 1));
    expect(own).toContain('src/worker.ts');
    expect(own.filter((f) => !f.startsWith('src/'))).toEqual([]);
    expect(own.filter((f) => /sandbox|cluster|demo|postgres/.test(f))).toEqual([]);
  });

  test('the build context leaves the development folders out, and the Dockerfile copies only src/', () => {
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['dev', 'test', 'bench', 'node_modules', 'dist', '.env']));
    const copies = [...read('Dockerfile').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] as string).split(' '));
    expect(copies.filter((f) => !['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src'].includes(f))).toEqual([]);
  });
});

test('one Node line everywhere: the image, CI (scripts/use-node.sh), .nvmrc and engines agree, and this run is on it', () => {
  const pinned = /^NODE_PINNED=(\d+)\.\d+\.\d+$/m.exec(read('scripts/use-node.sh'))?.[1];
  const images = [...read('Dockerfile').matchAll(/^FROM node:(\d+)\.[\d.]+-/gm)].map((m) => m[1]);
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  expect(images).toHaveLength(2);
  expect(new Set([pinned, ...images, read('.nvmrc').trim()])).toEqual(new Set([pinned]));
  expect(engines).toBe(`>=${pinned}`);
  // CI sources scripts/use-node.sh: a suite that ran on another line would prove nothing about the supported one.
  if (process.env.CI) expect(process.versions.node.split('.')[0]).toBe(pinned);
});
