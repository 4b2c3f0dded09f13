import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

// The lint rules that keep Temporal workflow code deterministic must actually fire.
const root = resolve(import.meta.dirname, '..');

async function lint(file: string, code: string) {
  const eslint = new ESLint({ cwd: root });
  const [res] = await eslint.lintText(code, { filePath: resolve(root, file) });
  return res!.messages.map((m) => m.ruleId);
}

describe('lint rules for workflow files', () => {
  it('bans Node built-ins and value imports of activities in workflow files', async () => {
    const rules = await lint(
      'test/smoke/temporal/workflows.ts',
      [
        "import { readFileSync } from 'node:fs';",
        "import { createActivities } from './activities.js';",
        'export const x = [readFileSync, createActivities];',
        '',
      ].join('\n'),
    );
    assert.equal(rules.filter((r) => r === '@typescript-eslint/no-restricted-imports').length, 2);
  });

  it('makes floating promises an error', async () => {
    const rules = await lint(
      'test/smoke/temporal/workflows.ts',
      'async function f(): Promise<void> {}\nexport function g(): void {\n  f();\n}\n',
    );
    assert.ok(rules.includes('@typescript-eslint/no-floating-promises'), String(rules));
  });

  it('allows type-only imports of activities', async () => {
    const rules = await lint(
      'test/smoke/temporal/workflows.ts',
      "import type { Activities } from './activities.js';\nexport type A = Activities;\n",
    );
    assert.deepEqual(rules, []);
  });
});
