/**
 * `npm test`: lint, bring up what the tests need (reusing running servers), run every spec file
 * with node's test runner, stop what was started. Arguments filter the spec files:
 *   npm test -- services/model        only spec files under that path
 *   npm test -- --tier unit           only *.unit.spec.ts (unit | int | e2e)
 *   npm test -- --no-lint             skip lint (CI always lints)
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { createLogger } from '@shoal/common';
import { startStack, type Stack } from '@shoal/deploy';
import { runLint } from './lint.js';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const tierIdx = args.indexOf('--tier');
const tier = tierIdx >= 0 ? args[tierIdx + 1] : undefined;
const noLint = args.includes('--no-lint') && process.env.CI !== 'true';
const filters = args.filter((a, i) => !a.startsWith('--') && (tierIdx < 0 || i !== tierIdx + 1));

const SKIP = new Set(['node_modules', '.git', '.shoal', '.nx', 'testdata', 'results']);

function findSpecs(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findSpecs(p, out);
    else if (/\.(unit|int|e2e)\.spec\.ts$/.test(name)) out.push(relative(root, p));
  }
  return out;
}

const specs = findSpecs(root)
  .filter((f) => !tier || f.endsWith(`.${tier}.spec.ts`))
  .filter((f) => filters.length === 0 || filters.some((x) => f.startsWith(x.replace(/^\.\//, ''))))
  .sort();

if (specs.length === 0) {
  process.stderr.write(`no spec files match ${JSON.stringify({ tier, filters })}\n`);
  process.exit(1);
}

const logger = createLogger({
  service: 'test-runner',
  level: process.env.LOG_LEVEL ?? 'warn',
  format: 'json',
});

if (!noLint) {
  const ok = await runLint(root);
  if (!ok) process.exit(1);
}

const needsStack = specs.some((f) => !f.endsWith('.unit.spec.ts'));
const dataDir = mkdtempSync(join(tmpdir(), 'shoal-test-stack-'));
let stack: Stack | undefined;
if (needsStack) {
  const t0 = Date.now();
  stack = await startStack(
    {
      natsUrl: process.env.NATS_URL,
      databaseUrl: process.env.DATABASE_URL,
      temporalAddress: process.env.TEMPORAL_ADDRESS,
      temporalNamespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      dataDir,
      ephemeral: true,
      databaseName: 'shoal_test',
      // A developer's `npm start` may be running: tests get their own Temporal.
      reuseDefaultTemporal: false,
    },
    logger,
  );
  process.stderr.write(
    `test stack ready in ${Date.now() - t0} ms:\n${stack
      .describe()
      .map((l) => `  ${l}`)
      .join('\n')}\n`,
  );
}

const stopStack = async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
};

const concurrency = Number(process.env.SHOAL_TEST_CONCURRENCY ?? 3);
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${concurrency}`,
    ...specs,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, ...stack?.env(), SHOAL_TEST: '1' } },
);
let interrupted = false;
for (const s of ['SIGINT', 'SIGTERM'] as const) {
  process.on(s, () => {
    interrupted = true;
    child.kill(s);
  });
}
const code: number = await new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
await stopStack();
process.exit(interrupted ? 130 : code);
