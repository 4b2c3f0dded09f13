/** Test helpers shared by this package's integration tests and its benchmark. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { freePort, silentLogger, Streams, Subjects, tcpReachable } from '@shoal/common';
import { ManagedProcess } from '@shoal/deploy';
import type { EventEnvelope } from '../core/envelope.js';

/** Create SHOAL_EVENTS as ingest does (same name and subjects) unless it exists. */
export async function ensureEventsStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(Streams.events);
  } catch {
    await jsm.streams.add({
      name: Streams.events,
      subjects: [Subjects.eventsAll],
      // 10 minutes: long enough to cover an agent restart during a flush (see README).
      duplicate_window: 10 * 60 * 1_000_000_000,
    });
  }
}

export interface StoredEvent {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly envelope: EventEnvelope;
}

/** Every message of the events stream, in stream order. */
export async function readEventsStream(nc: NatsConnection): Promise<StoredEvent[]> {
  const jsm = await jetstreamManager(nc);
  const total = (await jsm.streams.info(Streams.events)).state.messages;
  const out: StoredEvent[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nc).consumers.get(Streams.events);
  while (out.length < total) {
    const batch = await consumer.fetch({
      max_messages: Math.min(1000, total - out.length),
      expires: 2000,
    });
    for await (const m of batch) {
      out.push({
        seq: m.seq,
        subject: m.subject,
        msgId: m.headers?.get('Nats-Msg-Id'),
        envelope: m.json<EventEnvelope>(),
      });
    }
  }
  return out;
}

export async function streamCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(Streams.events)).state.messages;
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A nats-server with authorization on. startNatsServer() (testkit) cannot be used here: its
 * readiness probe connects without credentials, which such a server refuses.
 */
export async function startAuthNatsServer(
  configFile: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = tempDir('shoal-nats-auth-run-');
  const proc = new ManagedProcess(
    {
      name: `nats-auth-${port}`,
      command: 'nats-server',
      args: [
        '-c',
        configFile,
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        '-js',
        '-sd',
        join(dir.path, 'js'),
      ],
      env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin` },
      runDir: dir.path,
      ready: () => tcpReachable('127.0.0.1', port),
      readyTimeoutMs: 20_000,
    },
    silentLogger(),
  );
  await proc.start();
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}

/**
 * The real write path behind the agent: Shoal's ingest (from services/ingest) appending to a
 * fresh PostgreSQL database. Tests read what the store holds, not what NATS received.
 */
export interface TestStore {
  /** Every stored event, in store (global position) order. */
  read(): Promise<StoredEvent[]>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export async function startStore(natsUrl: string): Promise<TestStore> {
  const [{ createIngest, ingestConfig }, { tempDatabase }, pg, { Registry }] = await Promise.all([
    import('@shoal/ingest'),
    import('@shoal/testkit'),
    import('pg'),
    import('prom-client'),
  ]);
  const db = await tempDatabase('shoal_agent');
  const ingest = createIngest(
    ingestConfig({
      natsUrl,
      databaseUrl: db.url,
      sealInterval: 0,
      ackWait: 3_000,
      pullExpires: 1_000,
    }),
    { logger: silentLogger(), registry: new Registry() },
  );
  await ingest.start();
  const pool = new pg.default.Pool({ connectionString: db.url, max: 2 });
  return {
    async read() {
      const r = await pool.query<{
        position: string;
        stream: string;
        event_id: string;
        type: string;
        data: Record<string, unknown>;
        metadata: Record<string, unknown>;
        schema_version: number;
      }>(
        'select position, stream, event_id, type, data, metadata, schema_version from events order by position',
      );
      return r.rows.map((e) => ({
        seq: Number(e.position),
        subject: '',
        msgId: e.event_id,
        envelope: {
          id: e.event_id,
          stream: e.stream,
          type: e.type,
          data: e.data,
          metadata: e.metadata,
          schemaVersion: e.schema_version,
        } as unknown as EventEnvelope,
      }));
    },
    async count() {
      return Number((await pool.query('select count(*) as n from events')).rows[0].n);
    },
    async close() {
      await ingest.close();
      await pool.end();
      await db.drop();
    },
  };
}
