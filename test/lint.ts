/**
 * `npm run lint` (also the first step of `npm test`): type-check, ESLint (type-aware: floating
 * promises are errors; Node built-ins banned in Temporal workflow files), Prettier check.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

function run(root: string, label: string, cmd: string, args: string[]): boolean {
  const t0 = Date.now();
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  const ok = res.status === 0;
  process.stderr.write(`lint: ${label} ${ok ? 'ok' : 'FAILED'} (${Date.now() - t0} ms)\n`);
  return ok;
}

export async function runLint(root: string): Promise<boolean> {
  const bin = (name: string) => join(root, 'node_modules', '.bin', name);
  const results = [
    run(root, 'tsc', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']),
    run(root, 'eslint', bin('eslint'), ['--max-warnings=0', '.']),
    run(root, 'prettier', bin('prettier'), ['--check', '--log-level=warn', '.']),
  ];
  if (results.includes(false)) {
    process.stderr.write(
      'lint failed: fix the problems above (`npx prettier --write .` fixes formatting)\n',
    );
    return false;
  }
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ok = await runLint(resolve(import.meta.dirname, '..'));
  process.exit(ok ? 0 : 1);
}
