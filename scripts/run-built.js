#!/usr/bin/env node
// `npm start`, `npm run worker`, `npm run demo`, …: runs a built entry point (a path under dist/, e.g.
// `src/cli.js` or `dev/scripts/demo.js`), compiling first only when a source changed since the last build,
// so that a restarted (or crash-looping) process polls within seconds. It compiles the service and the
// development tools (tsconfig.dev.json); the image compiles the service alone (tsconfig.build.json).
// Plain JavaScript on purpose: it must run before anything is compiled.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.dev-build-stamp');

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), info.mtimeMs);
}

const inputs = ['src', 'dev', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.dev.json'].map((p) => join(root, p));
const builtAt = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (inputs.some((p) => newestMtime(p) > builtAt)) {
  process.stderr.write('sources changed since the last build: compiling…\n');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.dev.json')], { stdio: 'inherit' });
  writeFileSync(stamp, new Date().toISOString());
}

const [entry, ...args] = process.argv.slice(2);
process.argv = [process.argv[0], join(root, 'dist', entry), ...args];
// Run it as the main module (as `node <entry>` would), so its `require.main === module` checks hold.
require('node:module').runMain();
