/**
 * Golden files: testdata/<case>.in.yaml → testdata/<case>.out.yaml (decoded output, status,
 * errors, validation issues). Regenerate with SHOAL_UPDATE_GOLDEN=1 (stale outputs are pruned).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { compileFleet } from './compiler.js';
import { dumpFleet } from './dump.js';
import { parseCase } from './testing.js';

const dir = join(import.meta.dirname, '..', 'testdata');
const update = process.env.SHOAL_UPDATE_GOLDEN === '1';
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.in.yaml'))
  .map((f) => f.slice(0, -'.in.yaml'.length))
  .sort();

if (update) {
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.out.yaml'))) {
    if (!cases.includes(f.slice(0, -'.out.yaml'.length))) unlinkSync(join(dir, f));
  }
}

export function render(name: string): string {
  const { state, issues } = parseCase(
    readFileSync(join(dir, `${name}.in.yaml`), 'utf8'),
    `${name}.in.yaml`,
  );
  const out = dumpFleet(compileFleet(state)) as Record<string, unknown>;
  return stringify({ validation: issues, ...out }, { lineWidth: 0 });
}

describe('compiler golden files', () => {
  it('has at least 40 cases', () => assert.ok(cases.length >= 40, `only ${cases.length} cases`));
  for (const name of cases) {
    it(name, () => {
      const got = render(name);
      const file = join(dir, `${name}.out.yaml`);
      if (update || !existsSync(file)) {
        writeFileSync(file, got);
        if (!update)
          assert.fail(`${name}.out.yaml was missing and has been written; review it and re-run`);
        return;
      }
      assert.equal(
        got,
        readFileSync(file, 'utf8'),
        `${name}: output differs from ${name}.out.yaml (SHOAL_UPDATE_GOLDEN=1 regenerates)`,
      );
    });
  }
});
