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
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
// Two phases: unit and integration files run side by side; end-to-end files (several node
// processes each, timing-sensitive) run one at a time afterwards, so they never compete with
// each other for the two cores.
const phases = [
  {
    name: 'unit + integration',
    files: specs.filter((f) => !f.endsWith('.e2e.spec.ts')),
    concurrency,
  },
  { name: 'end-to-end', files: specs.filter((f) => f.endsWith('.e2e.spec.ts')), concurrency: 1 },
].filter((p) => p.files.length > 0);

let interrupted = false;
let current: ReturnType<typeof spawn> | undefined;
for (const s of ['SIGINT', 'SIGTERM'] as const) {
  process.on(s, () => {
    interrupted = true;
    current?.kill(s);
  });
}

const tapDir = mkdtempSync(join(tmpdir(), 'shoal-test-tap-'));
let code = 0;
const totals = { pass: 0, fail: 0 };
const runFiles = async (files: string[], conc: number, tap: string): Promise<number> => {
  current = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      `--test-concurrency=${conc}`,
      ...files,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ...stack?.env(), SHOAL_TEST: '1' } },
  );
  return new Promise((r) => current!.on('exit', (x) => r(x ?? 1)));
};
const count = (tap: string) => {
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  totals.pass += Number(/^# pass (\d+)$/m.exec(text)?.[1] ?? 0);
  totals.fail += Number(/^# fail (\d+)$/m.exec(text)?.[1] ?? 0);
};
const retried: string[] = [];
for (const [i, phase] of phases.entries()) {
  if (interrupted) break;
  process.stdout.write(`\n=== ${phase.name}: ${phase.files.length} files ===\n`);
  if (phase.concurrency > 1) {
    const tap = join(tapDir, `phase-${i}.tap`);
    const c = await runFiles(phase.files, phase.concurrency, tap);
    if (c !== 0) code = c;
    count(tap);
    continue;
  }
  // End-to-end files one by one. These start several OS processes each and are sensitive to
  // load on two cores: a file that fails is run once more, and the retry is reported (in this
  // output and in the closing line) so a flaky test is visible, never silent.
  for (const [j, file] of phase.files.entries()) {
    if (interrupted) break;
    let tap = join(tapDir, `phase-${i}-${j}.tap`);
    let c = await runFiles([file], 1, tap);
    if (c !== 0 && !interrupted) {
      process.stdout.write(
        `\n!!! ${file} failed; running it once more (flaky multi-process test?)\n`,
      );
      retried.push(file);
      tap = join(tapDir, `phase-${i}-${j}-retry.tap`);
      c = await runFiles([file], 1, tap);
    }
    if (c !== 0) code = c;
    count(tap);
  }
}
rmSync(tapDir, { recursive: true, force: true });
await stopStack();
// One closing line for the whole run, over both phases.
if (retried.length > 0) process.stdout.write(`\nretried after a failure: ${retried.join(', ')}\n`);
process.stdout.write(`\ntests: ${totals.pass} passed, ${totals.fail} failed\n`);
process.exit(interrupted ? 130 : code !== 0 ? code : totals.fail > 0 ? 1 : 0);
