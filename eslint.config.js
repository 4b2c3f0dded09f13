// ESLint for the whole repo. Type-aware, so that floating promises are errors everywhere; and
// stricter for Temporal workflow code, which runs in a deterministic sandbox: no Node built-ins,
// no non-type imports of activities.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.shoal/**',
      '.nx/**',
      '**/testdata/**',
      'db/migrations/**',
      'test/bench/results/**',
      'scripts/**',
      'deploy/temporal-dev/**',
      '**/bin/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises that the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Temporal workflow code: deterministic sandbox.
    files: ['**/workflows.ts', 'workflows/src/**/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message:
              'Workflow code runs in a deterministic sandbox: no Node built-ins. Use an activity.',
          })),
          patterns: [
            {
              group: ['**/activities', '**/activities.js', '**/activities/**'],
              allowTypeImports: true,
              message: 'Import activities as types only (proxyActivities<typeof activities>).',
            },
            {
              group: ['pg', 'pino', '@nats-io/*', 'drizzle-orm*', '@grpc/*'],
              message: 'Workflow code must not do I/O: move this into an activity.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', 'services/cli/**/*.ts', 'deploy/src/main.ts'],
    rules: { 'no-console': 'off' },
  },
);
