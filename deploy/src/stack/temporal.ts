import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import Long from 'long';
import { PrerequisiteError, freePort, type Logger } from '@shoal/common';
import { ManagedProcess } from './process.js';
import { findOnPath, type StackPart } from './util.js';

const here = dirname(fileURLToPath(import.meta.url));
export const TEMPORAL_DEV_DIR = join(here, '..', '..', 'temporal-dev');

export interface TemporalOptions {
  /** TEMPORAL_ADDRESS when the user set it: then it must be reachable, Shoal starts nothing. */
  readonly address?: string;
  readonly defaultAddress: string;
  readonly namespace: string;
  readonly dataDir: string;
  /** Tests: in-memory persistence on a free port. */
  readonly ephemeral?: boolean;
  /** Without an explicit address: reuse a server answering at the default address. */
  readonly reuseDefault?: boolean;
}

/** 'ok' when the frontend answers and the namespace exists. */
export async function probeTemporal(
  address: string,
  namespace: string,
): Promise<'ok' | 'down' | 'missing-namespace'> {
  let conn: Connection | undefined;
  try {
    conn = await Connection.connect({ address, connectTimeout: 1000 });
  } catch {
    return 'down';
  }
  try {
    await conn.workflowService.describeNamespace({ namespace });
    return 'ok';
  } catch (err) {
    return (err as { code?: number }).code === 5 ? 'missing-namespace' : 'down';
  } finally {
    await conn.close().catch(() => undefined);
  }
}

async function registerNamespace(address: string, namespace: string): Promise<void> {
  const conn = await Connection.connect({ address, connectTimeout: 2000 });
  try {
    await conn.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(3 * 24 * 3600) },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 6) throw err; // ALREADY_EXISTS
  } finally {
    await conn.close();
  }
}

/**
 * The Temporal server binary to run: `temporal` from PATH when present, else Shoal's dev server
 * built from Go modules by deploy/temporal-dev/build.sh (built once, cached outside the clone).
 */
export function temporalExecutable(logger: Logger): {
  path: string;
  kind: 'temporal-cli' | 'shoal-dev';
} {
  const cli = process.env.SHOAL_TEMPORAL_BIN ?? findOnPath('temporal');
  if (cli) return { path: cli, kind: 'temporal-cli' };
  const go = findOnPath('go', ['/usr/local/go/bin']);
  if (!go) {
    throw new PrerequisiteError(
      'temporal',
      'no Temporal server is reachable, the `temporal` CLI is not on PATH and Go is not installed: ' +
        'install Go 1.26+ (Shoal then builds its Temporal dev server once, into ~/.cache/shoal), ' +
        'put the `temporal` CLI on PATH, or set TEMPORAL_ADDRESS to a running Temporal server',
    );
  }
  const t0 = Date.now();
  logger.info(
    'preparing the Temporal dev server (first run builds it from Go modules: a few minutes)',
  );
  let path: string;
  try {
    path = execFileSync('bash', [join(TEMPORAL_DEV_DIR, 'build.sh')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PATH: `${process.env.PATH ?? ''}:${dirname(go)}` },
    })
      .toString()
      .trim()
      .split('\n')
      .pop()!;
  } catch (err) {
    throw new PrerequisiteError(
      'temporal',
      `building the Temporal dev server failed (see the output above); or set TEMPORAL_ADDRESS to a running Temporal server`,
      err,
    );
  }
  logger.debug({ path, ms: Date.now() - t0 }, 'temporal dev server binary ready');
  return { path, kind: 'shoal-dev' };
}

export async function ensureTemporal(opts: TemporalOptions, logger: Logger): Promise<StackPart> {
  const address = opts.address ?? opts.defaultAddress;
  const mayReuse = opts.address !== undefined || (opts.reuseDefault ?? true);
  const state = mayReuse ? await probeTemporal(address, opts.namespace) : 'down';
  if (state === 'ok') return { name: 'temporal', url: address, reused: true };
  if (state === 'missing-namespace') {
    await registerNamespace(address, opts.namespace);
    return { name: 'temporal', url: address, reused: true };
  }
  if (opts.address !== undefined) {
    throw new PrerequisiteError(
      'temporal',
      `TEMPORAL_ADDRESS=${opts.address} is not reachable: start that server, or unset TEMPORAL_ADDRESS to let Shoal start a dev server`,
    );
  }
  const exe = temporalExecutable(logger);
  const [host = '127.0.0.1', portText = '7233'] = address.split(':');
  const port = opts.ephemeral ? await freePort(host) : Number(portText);
  const own = `${host}:${port}`;
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--namespace',
    opts.namespace,
    '--headless',
    '--log-format',
    'json',
    '--log-level',
    'warn',
  ];
  // Shoal's dev server exits when its parent dies, so a killed `npm start` leaves no orphan.
  if (exe.kind === 'shoal-dev') args.push('--exit-with-parent');
  if (!opts.ephemeral) {
    const dbDir = join(opts.dataDir, 'temporal');
    mkdirSync(dbDir, { recursive: true });
    args.push('--db-filename', join(dbDir, 'temporal.db'));
  }
  const proc = new ManagedProcess(
    {
      name: 'temporal',
      command: exe.path,
      args,
      runDir: opts.dataDir,
      ready: async () => (await probeTemporal(own, opts.namespace)) === 'ok',
      readyTimeoutMs: 90_000,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 15_000,
    },
    logger,
  );
  await proc.start();
  return { name: 'temporal', url: own, reused: false, process: proc };
}
