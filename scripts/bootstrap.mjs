#!/usr/bin/env node
// Self-bootstrapping entry for `npm start`, `npm test`, `npm run lint` and `npm run bench`.
// Plain Node (no dependencies) on purpose: it runs before anything is installed. It installs the
// locked dependencies when node_modules is missing or older than package-lock.json, then hands
// over to the TypeScript entry point of the command through tsx.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = {
  start: 'deploy/src/main.ts',
  test: 'test/run.ts',
  lint: 'test/lint.ts',
  bench: 'test/bench/run.ts',
};

function fail(message) {
  process.stderr.write(`shoal: ${message}\n`);
  process.exit(1);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 3)) {
  fail(`Node.js ${process.versions.node} is too old: install Node.js 20.3 or newer.`);
}

const command = process.argv[2];
const entry = entries[command];
if (!entry)
  fail(`unknown command "${command}"; expected one of ${Object.keys(entries).join(', ')}`);

function ensureDependencies() {
  const lock = join(root, 'package-lock.json');
  const stampFile = join(root, 'node_modules', '.shoal-install-stamp');
  const want = createHash('sha256')
    .update(readFileSync(lock))
    .update(readFileSync(join(root, 'package.json')))
    .digest('hex');
  const have = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
  if (have === want && existsSync(join(root, 'node_modules', 'tsx'))) return;
  process.stderr.write('shoal: installing dependencies (npm ci) ...\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (res.error) fail(`could not run npm: ${res.error.message}. Is npm on PATH?`);
  if (res.status !== 0) fail(`"npm ci" failed with exit code ${res.status}; see the output above.`);
  writeFileSync(stampFile, `${want}\n`);
}

ensureDependencies();

const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(root, entry), ...process.argv.slice(3)],
  { cwd: root, stdio: 'inherit', env: process.env },
);
// The terminal sends Ctrl-C to the whole process group: the child handles it and decides when to
// exit. A SIGTERM addressed to this wrapper alone is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal === 'SIGINT' ? 130 : 1));
});
