/**
 * `shoal`: the fleet from one CLI. Connection: flags, then SHOAL_SERVER / SHOAL_CA /
 * SHOAL_TOKEN, then the `.shoal/cli.json` that `npm start` writes.
 */
import { ApiClient } from './client.js';
import { COMMANDS, type Args, type Command } from './commands.js';
import { resolveConnection } from './context.js';
import { CliError, ExitCode, UsageError } from './exit.js';
import { rolloutCommand } from './rollout.js';

const ALL: readonly Command[] = [...COMMANDS, rolloutCommand];
const GLOBAL_FLAGS = ['server', 'server-id', 'ca', 'token', 'token-file', 'cert', 'key', 'help'];
const BOOLEAN = new Set(['dry-run', 'watch', 'help', 'h']);

export function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  const multi = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    let key = a.replace(/^--?/, '');
    let value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else if (!BOOLEAN.has(key)) {
      value = argv[i + 1];
      if (value === undefined) throw new UsageError(`${a} needs a value`);
      i++;
    }
    flags.set(key, value ?? 'true');
    multi.set(key, [...(multi.get(key) ?? []), value ?? 'true']);
  }
  return { positional, flags, multi };
}

function help(): string {
  const rows = ALL.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n');
  return `shoal: manage a Shoal mesh fleet

Usage: shoal COMMAND [args] [flags]      shoal COMMAND --help for details

Commands:
${rows}
  completion   print a bash completion script: source <(npx shoal completion)

Connection flags: --server HOST:PORT (SHOAL_SERVER), --ca FILE (SHOAL_CA), --token T (SHOAL_TOKEN),
  --token-file FILE (SHOAL_TOKEN_FILE), --cert FILE --key FILE (SHOAL_CERT, SHOAL_KEY) for mTLS.
  Without them, the .shoal/cli.json written by \`npm start\` is used.

Exit codes: 0 ok, 1 failure, 2 usage, 3 validation, 4 conflict, 5 authentication or permission,
  6 API unavailable, 7 not found.
`;
}

export function completionScript(): string {
  const cmds = [...ALL.map((c) => c.name), 'completion'].join(' ');
  const perCmd = ALL.map(
    (c) =>
      `    ${c.name}) opts="${(c.flags ?? []).map((f) => (f.length === 1 ? `-${f}` : `--${f}`)).join(' ')}" ;;`,
  ).join('\n');
  return `# bash completion for shoal
_shoal() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=( $(compgen -W "${cmds}" -- "$cur") ); return; fi
  case "$cmd" in
${perCmd}
    rollout) [ "$COMP_CWORD" -eq 2 ] && opts="start status list pause resume approve abort" ;;
  esac
  COMPREPLY=( $(compgen -W "$opts --help ${GLOBAL_FLAGS.filter((f) => f !== 'help')
    .map((f) => `--${f}`)
    .join(' ')}" -- "$cur") )
  [ \${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -F _shoal shoal
`;
}

export async function main(
  argv: readonly string[],
  io = { out: (t: string) => void process.stdout.write(t), isTTY: Boolean(process.stdout.isTTY) },
): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (!name || name === 'help' || name === '--help' || name === '-h') {
      io.out(help());
      return name ? ExitCode.ok : ExitCode.usage;
    }
    if (name === 'completion') {
      io.out(completionScript());
      return ExitCode.ok;
    }
    const cmd = ALL.find((c) => c.name === name);
    if (!cmd) throw new UsageError(`unknown command "${name}"; run \`shoal --help\` for the list`);
    const args = parseArgs(rest);
    if (args.flags.has('help') || args.flags.has('h')) {
      io.out(`${cmd.summary}\n\nUsage: ${cmd.usage}\n`);
      return ExitCode.ok;
    }
    const allowed = new Set([
      ...(cmd.flags ?? []),
      ...GLOBAL_FLAGS,
      'output',
      'filename',
      'namespace',
    ]);
    for (const f of args.flags.keys()) {
      if (!allowed.has(f))
        throw new UsageError(`unknown flag --${f} for \`shoal ${cmd.name}\`; usage: ${cmd.usage}`);
    }
    const api = new ApiClient(resolveConnection(args.flags));
    try {
      await cmd.run(api, args, io);
    } finally {
      api.close();
    }
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`shoal: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as Error & { exitCode?: number };
    process.stderr.write(`shoal: ${e.message}\n`);
    return e.exitCode ?? ExitCode.failure;
  }
}
