// Headless Chromium for the Web UI test, found without root and without a download from a browser CDN:
// CHROMIUM_PATH → the @sparticuz/chromium package (its binary ships inside the npm tarball) → a system chromium.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/temporal/binaries';

// Closed network here: without these, Chromium keeps calling Google's hosts and logging refusals.
const ARGS = [
  '--no-sandbox',
  '--no-zygote',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SYSTEM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

interface Found {
  executablePath: string;
  env?: Record<string, string>;
  from: string;
}

/**
 * The package's brotli-compressed binary, unpacked once into the project's cache (the package's own
 * unpacking writes to a shared /tmp, which a second user of the machine could not reuse). Built for AWS
 * Lambda's minimal image, it loads NSS from the libraries the package ships alongside: they go on the
 * browser's library path only.
 */
function packaged(): Found | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let bin: string;
  let version: string;
  try {
    // Its package.json is not exported: found from the entry point, three folders up (build/cjs/index.cjs).
    const root = dirname(dirname(dirname(require.resolve('@sparticuz/chromium'))));
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    bin = join(root, 'bin');
  } catch {
    return undefined;
  }
  const dir = join(PROJECT_ROOT, '.cache', `chromium-${version}`);
  const executablePath = join(dir, 'chromium');
  if (!existsSync(executablePath)) {
    const staging = `${dir}.partial-${process.pid}`;
    mkdirSync(join(staging, 'lib'), { recursive: true });
    execFileSync('tar', ['-x', '-C', join(staging, 'lib'), '--strip-components=1', '-f', '-'], { input: brotliDecompressSync(readFileSync(join(bin, 'al2023.tar.br'))) });
    writeFileSync(join(staging, 'chromium'), brotliDecompressSync(readFileSync(join(bin, 'chromium.br'))));
    chmodSync(join(staging, 'chromium'), 0o755);
    // Two test files may unpack at once: the first rename wins, the other's copy is left to the cache's cleanup.
    try {
      renameSync(staging, dir);
    } catch {
      // already there
    }
  }
  return { executablePath, env: { LD_LIBRARY_PATH: [join(dir, 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') }, from: '@sparticuz/chromium' };
}

function findChromium(): Found {
  if (process.env.CHROMIUM_PATH) return { executablePath: process.env.CHROMIUM_PATH, from: 'CHROMIUM_PATH' };
  const fromPackage = packaged();
  if (fromPackage) return fromPackage;
  const system = SYSTEM.find((p) => existsSync(p));
  if (system) return { executablePath: system, from: system };
  throw new Error('no Chromium: npm install (the @sparticuz/chromium devDependency, Linux x64), a system chromium, or CHROMIUM_PATH');
}

export async function launchChromium(): Promise<Browser> {
  const found = findChromium();
  try {
    return await chromium.launch({ executablePath: found.executablePath, args: ARGS, env: found.env ? { ...process.env, ...found.env } : undefined });
  } catch (err) {
    throw new Error(`Chromium from ${found.from} (${found.executablePath}) did not start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}
