import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { PrerequisiteError, freePort, type Logger } from '@shoal/common';
import { ManagedProcess } from './process.js';
import { findOnPath, type StackPart } from './util.js';

export interface NatsOptions {
  /** NATS_URL when the user set it: then it must be reachable, Shoal starts nothing. */
  readonly url?: string;
  readonly defaultUrl: string;
  readonly dataDir: string;
  /** Tests: start on a free port when nothing answers at the default URL. */
  readonly ephemeral?: boolean;
}

/** Whether a NATS server with JetStream answers at `url` ("no-jetstream" when it lacks it). */
export async function probeNats(url: string): Promise<'ok' | 'down' | 'no-jetstream'> {
  let nc;
  try {
    nc = await connect({ servers: url, timeout: 1000, reconnect: false });
  } catch {
    return 'down';
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    await jsm.getAccountInfo();
    return 'ok';
  } catch {
    return 'no-jetstream';
  } finally {
    await nc.close().catch(() => undefined);
  }
}

export async function ensureNats(opts: NatsOptions, logger: Logger): Promise<StackPart> {
  const url = opts.url ?? opts.defaultUrl;
  const state = await probeNats(url);
  if (state === 'ok') return { name: 'nats', url, reused: true };
  if (state === 'no-jetstream') {
    throw new PrerequisiteError(
      'nats',
      `the NATS server at ${url} does not have JetStream enabled: start it with -js, or set NATS_URL to one that has it`,
    );
  }
  if (opts.url !== undefined) {
    throw new PrerequisiteError(
      'nats',
      `NATS_URL=${opts.url} is not reachable: start that server, or unset NATS_URL to let Shoal start one`,
    );
  }
  const bin = findOnPath('nats-server', ['/usr/sbin', '/usr/local/sbin']);
  if (!bin) {
    throw new PrerequisiteError(
      'nats',
      'nats-server was not found on PATH and no NATS answers at ' +
        `${url}: install nats-server 2.9+ (Debian: apt-get install nats-server) or set NATS_URL`,
    );
  }
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = opts.ephemeral ? await freePort(host) : Number(u.port || 4222);
  const ownUrl = `nats://${host}:${port}`;
  const proc = new ManagedProcess(
    {
      name: 'nats',
      command: bin,
      args: ['-a', host, '-p', String(port), '-js', '-sd', join(opts.dataDir, 'nats')],
      runDir: opts.dataDir,
      ready: async () => (await probeNats(ownUrl)) === 'ok',
      readyTimeoutMs: 20_000,
      stopSignal: 'SIGTERM',
    },
    logger,
  );
  await proc.start();
  return { name: 'nats', url: ownUrl, reused: false, process: proc };
}
