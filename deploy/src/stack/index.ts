import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { setting, type Logger, type Runner } from '@shoal/common';
import { ensureNats } from './nats.js';
import { ensurePostgres, redact } from './postgres.js';
import { ensureTemporal } from './temporal.js';
import type { StackPart } from './util.js';

export { probeNats } from './nats.js';
export {
  probePostgres,
  createDatabase,
  startPostgresCluster,
  findPostgresBinaries,
} from './postgres.js';
export { probeTemporal, temporalExecutable, TEMPORAL_DEV_DIR } from './temporal.js';
export { ManagedProcess } from './process.js';
export type { StackPart } from './util.js';

/** Settings of the local stack, shared by `npm start` and `npm test`. */
export const stackSettings = {
  natsUrl: setting.optionalString(
    'NATS server with JetStream; unset: reuse 127.0.0.1:4222 or start one',
    {
      env: 'NATS_URL',
      flag: 'nats-url',
    },
  ),
  databaseUrl: setting.optionalString(
    'PostgreSQL URL; unset: reuse 127.0.0.1:5432 (database "shoal") or start an embedded server',
    { env: 'DATABASE_URL', flag: 'database-url' },
  ),
  temporalAddress: setting.optionalString(
    'Temporal frontend host:port; unset: reuse 127.0.0.1:7233 or start a dev server',
    { env: 'TEMPORAL_ADDRESS', flag: 'temporal-address' },
  ),
  temporalNamespace: setting.string('Temporal namespace', {
    env: 'TEMPORAL_NAMESPACE',
    flag: 'temporal-namespace',
    default: 'default',
  }),
  dataDir: setting.string('folder for data and logs of the servers Shoal starts', {
    env: 'SHOAL_DATA_DIR',
    flag: 'data-dir',
    default: '.shoal',
  }),
};

export interface StackOptions {
  readonly natsUrl?: string;
  readonly databaseUrl?: string;
  readonly temporalAddress?: string;
  readonly temporalNamespace: string;
  readonly dataDir: string;
  /** Tests: free ports, in-memory Temporal, temp data; never touches the defaults' data. */
  readonly ephemeral?: boolean;
  /** Database name used when DATABASE_URL is unset. */
  readonly databaseName?: string;
  /** When TEMPORAL_ADDRESS is unset: reuse a server at 127.0.0.1:7233 (default true). */
  readonly reuseDefaultTemporal?: boolean;
  /** Where to look for (and start) servers when no URL is given; tests move these. */
  readonly defaults?: { natsUrl?: string; databaseUrl?: string; temporalAddress?: string };
}

export interface Stack {
  readonly nats: StackPart;
  readonly postgres: StackPart;
  readonly temporal: StackPart;
  readonly temporalNamespace: string;
  /** Environment variables that point a child process at this stack. */
  env(): Record<string, string>;
  /** Stop what this stack started (and nothing it merely reused), newest first. */
  stop(): Promise<void>;
  describe(): string[];
}

/**
 * Bring up the local stack: reuse each server that already answers, start the others under the
 * data folder on loopback. Parts start in parallel; if one fails, the others are stopped again.
 */
export async function startStack(opts: StackOptions, logger: Logger): Promise<Stack> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // Servers that run as another user (PostgreSQL as `postgres` when we are root) pass through.
  chmodSync(dataDir, statSync(dataDir).mode | 0o001);
  const log = logger.child({ component: 'stack' });
  const results = await Promise.allSettled([
    ensureNats(
      {
        url: opts.natsUrl,
        defaultUrl: opts.defaults?.natsUrl ?? 'nats://127.0.0.1:4222',
        dataDir,
        ephemeral: opts.ephemeral,
      },
      log,
    ),
    ensurePostgres(
      {
        url: opts.databaseUrl,
        defaultUrl:
          opts.defaults?.databaseUrl ??
          `postgres://postgres@127.0.0.1:5432/${opts.databaseName ?? 'shoal'}`,
        dataDir,
        ephemeral: opts.ephemeral,
      },
      log,
    ),
    ensureTemporal(
      {
        address: opts.temporalAddress,
        defaultAddress: opts.defaults?.temporalAddress ?? '127.0.0.1:7233',
        namespace: opts.temporalNamespace,
        dataDir,
        ephemeral: opts.ephemeral,
        reuseDefault: opts.reuseDefaultTemporal ?? true,
      },
      log,
    ),
  ]);
  const parts = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = async () => {
    for (const p of [...parts].reverse()) await p.process?.stop();
  };
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length > 0) {
    await stopAll();
    if (failures.length === 1) throw failures[0];
    throw new AggregateError(failures, failures.map((f) => f.message).join('\n'));
  }
  const [nats, postgres, temporal] = parts as [StackPart, StackPart, StackPart];
  return {
    nats,
    postgres,
    temporal,
    temporalNamespace: opts.temporalNamespace,
    env: () => ({
      NATS_URL: nats.url,
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: temporal.url,
      TEMPORAL_NAMESPACE: opts.temporalNamespace,
    }),
    stop: stopAll,
    describe: () =>
      [nats, postgres, temporal].map(
        (p) =>
          `${p.name.padEnd(9)} ${p.name === 'postgres' ? redact(p.url) : p.url}  ` +
          (p.reused
            ? '(already running: reused)'
            : `(started by Shoal, pid ${p.process?.pid}, log ${p.process?.logFile})`),
      ),
  };
}

/** The stack as a Runner, so main.ts stops it last, after the services that use it. */
export function stackRunner(
  opts: StackOptions,
  logger: Logger,
  onReady: (s: Stack) => void,
): Runner {
  let stack: Stack | undefined;
  return {
    name: 'local-stack',
    async start() {
      stack = await startStack(opts, logger);
      onReady(stack);
    },
    async close() {
      await stack?.stop();
    },
  };
}
