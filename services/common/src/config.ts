import { ConfigError, type ConfigIssue } from './errors.js';

/**
 * Typed configuration from environment variables and command-line flags, validated once at
 * start-up. A flag wins over its environment variable, which wins over the default. Every bad
 * value is reported at once (not only the first), naming the flag, the variable and the fix.
 */
export interface Setting<T> {
  readonly env?: string;
  readonly flag?: string;
  readonly describe: string;
  readonly default?: T;
  /** Parse a raw string; throw an Error whose message says what is expected. */
  readonly parse: (raw: string) => T;
  /** Shown in --help instead of the default (for secrets or computed defaults). */
  readonly defaultLabel?: string;
}

type Spec = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Spec> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

export interface ConfigSource {
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export const setting = {
  string(describe: string, o: Partial<Setting<string>> = {}): Setting<string> {
    return { describe, parse: (raw) => raw, ...o };
  },
  optionalString(
    describe: string,
    o: Partial<Setting<string | undefined>> = {},
  ): Setting<string | undefined> {
    return { describe, parse: (raw) => (raw === '' ? undefined : raw), default: undefined, ...o };
  },
  int(
    describe: string,
    o: Partial<Setting<number>> & { min?: number; max?: number } = {},
  ): Setting<number> {
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, ...rest } = o;
    return {
      describe,
      parse: (raw) => {
        if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected a whole number, got "${raw}"`);
        const n = Number(raw);
        if (n < min || n > max)
          throw new Error(`expected a number from ${min} to ${max}, got ${n}`);
        return n;
      },
      ...rest,
    };
  },
  port(describe: string, o: Partial<Setting<number>> = {}): Setting<number> {
    return setting.int(describe, { min: 0, max: 65535, ...o });
  },
  bool(describe: string, o: Partial<Setting<boolean>> = {}): Setting<boolean> {
    return {
      describe,
      parse: (raw) => {
        const v = raw.trim().toLowerCase();
        if (['1', 'true', 'yes', 'on', ''].includes(v)) return true;
        if (['0', 'false', 'no', 'off'].includes(v)) return false;
        throw new Error(`expected true or false, got "${raw}"`);
      },
      ...o,
    };
  },
  oneOf<const T extends string>(
    describe: string,
    values: readonly T[],
    o: Partial<Setting<T>> = {},
  ): Setting<T> {
    return {
      describe: `${describe} (${values.join(' | ')})`,
      parse: (raw) => {
        if (!(values as readonly string[]).includes(raw)) {
          throw new Error(`expected one of ${values.join(', ')}, got "${raw}"`);
        }
        return raw as T;
      },
      ...o,
    };
  },
  url(
    describe: string,
    protocols: readonly string[],
    o: Partial<Setting<string>> = {},
  ): Setting<string> {
    return {
      describe,
      parse: (raw) => {
        let u: URL;
        try {
          u = new URL(raw);
        } catch {
          throw new Error(`"${raw}" is not a URL; expected e.g. ${protocols[0]}//127.0.0.1`);
        }
        if (!protocols.includes(u.protocol)) {
          throw new Error(`"${raw}" must start with ${protocols.join(' or ')}//`);
        }
        return raw;
      },
      ...o,
    };
  },
  /** host:port, as gRPC targets are written. */
  hostPort(describe: string, o: Partial<Setting<string>> = {}): Setting<string> {
    return {
      describe,
      parse: (raw) => {
        const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw.trim());
        if (!m || Number(m[2]) > 65535) {
          throw new Error(`expected host:port such as 127.0.0.1:7233, got "${raw}"`);
        }
        return raw.trim();
      },
      ...o,
    };
  },
  /** A duration such as 250ms, 5s, 2m or 1h; the value is in milliseconds. */
  duration(describe: string, o: Partial<Setting<number>> = {}): Setting<number> {
    return { describe, parse: parseDuration, ...o };
  },
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim());
  if (!m) throw new Error(`expected a duration such as 500ms, 10s, 5m or 1h, got "${raw}"`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

function parseArgv(argv: readonly string[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (arg.startsWith('--no-')) {
      flags.set(arg.slice(5), 'false');
    } else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        flags.set(arg.slice(2), next);
        i++;
      } else {
        flags.set(arg.slice(2), 'true');
      }
    }
  }
  return { flags, positional };
}

function label(s: Setting<unknown>): string {
  return [s.flag && `--${s.flag}`, s.env].filter(Boolean).join(' / ');
}

/** Build the config object, or throw one ConfigError listing every bad value. */
export function loadConfig<S extends Spec>(
  service: string,
  spec: S,
  source: ConfigSource = {},
): ConfigOf<S> {
  const env = source.env ?? process.env;
  const { flags } = parseArgv(source.argv ?? process.argv.slice(2));
  const issues: ConfigIssue[] = [];
  const known = new Set(
    Object.values(spec)
      .map((s) => s.flag)
      .filter(Boolean),
  );
  for (const f of flags.keys()) {
    if (f !== 'help' && !known.has(f)) {
      issues.push({
        setting: `--${f}`,
        problem: 'unknown flag; run with --help to list the flags',
      });
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) {
    const raw =
      (s.flag !== undefined ? flags.get(s.flag) : undefined) ?? (s.env ? env[s.env] : undefined);
    if (raw === undefined) {
      if (!('default' in s)) {
        issues.push({ setting: label(s), problem: `is required: ${s.describe}` });
      }
      out[key] = s.default;
      continue;
    }
    try {
      out[key] = s.parse(raw);
    } catch (err) {
      issues.push({ setting: label(s), problem: (err as Error).message });
    }
  }
  if (issues.length > 0) throw new ConfigError(service, issues);
  return out as ConfigOf<S>;
}

export function helpText(service: string, usage: string, spec: Spec): string {
  const rows = Object.values(spec).map((s) => {
    const def =
      s.defaultLabel ?? (s.default === undefined ? '' : ` (default: ${String(s.default)})`);
    return `  ${label(s).padEnd(40)} ${s.describe}${def}`;
  });
  return `${service}\n\nUsage: ${usage}\n\nOptions (flag / environment variable):\n${rows.join('\n')}\n`;
}

export function wantsHelp(argv: readonly string[] = process.argv.slice(2)): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
