/**
 * `npm run bench -- <name> [options]`: runs test/bench/<name>.bench.ts. Each benchmark brings up
 * what it needs, measures Shoal and a baseline in the same run, prints the ratio against the
 * target and writes test/bench/results/<name>.json. Without a name: lists the benchmarks.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
const [name, ...rest] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(
    `${name ? `unknown benchmark "${name}". ` : ''}Usage: npm run bench -- <name>\n` +
      `Benchmarks: ${available.length > 0 ? available.join(', ') : '(none yet)'}\n`,
  );
  process.exit(name ? 2 : 0);
}
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', join(dir, `${name}.bench.ts`), ...rest],
  {
    stdio: 'inherit',
  },
);
process.exit(res.status ?? 1);
