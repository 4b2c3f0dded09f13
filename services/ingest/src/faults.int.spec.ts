import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { Registry } from 'prom-client';
import { freePort, silentLogger, waitFor } from '@shoal/common';
import { EventStore, START, migrateDatabase, verify, type EventEnvelope } from '@shoal/db';
import { createDatabase, startPostgresCluster, type ManagedProcess } from '@shoal/deploy';
import { sleep, startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { ingestConfig, type IngestConfig } from './config.js';
import { publishEvent, resourceEvent } from './fixtures.js';
import { createIngest } from './ingest.js';

const root = resolve(import.meta.dirname, '../../..');
const TOTAL = 1200;
const STREAMS = 12;

/**
 * Publish TOTAL events over STREAMS resource streams, one at a time and in order, retrying each
 * (same id, so JetStream de-duplicates) until JetStream acknowledges it: what an agent does.
 */
function steadyPublisher(url: string, cluster: string) {
  const published: EventEnvelope[] = [];
  const done = (async () => {
    const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const js = jetstream(nc, { timeout: 1500 });
    try {
      for (let i = 0; i < TOTAL; i++) {
        const e = resourceEvent(cluster, `svc-${i % STREAMS}`, i);
        for (;;) {
          try {
            await publishEvent(js, e);
            break;
          } catch {
            await sleep(100);
          }
        }
        published.push(e);
        if (i % 20 === 0) await sleep(4);
      }
    } finally {
      await nc.close();
    }
    return published;
  })();
  return { published, done };
}

async function assertExactlyOnceInOrder(url: string, published: EventEnvelope[]) {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await waitFor(
      'every published event in the store',
      async () =>
        Number((await pool.query('select count(*) from events')).rows[0].count) >= published.length,
      { timeoutMs: 40_000, intervalMs: 200 },
    );
    await sleep(300); // anything extra (a duplicate) would show up now
    const rows = (await pool.query('select event_id, stream, data from events order by position'))
      .rows as {
      event_id: string;
      stream: string;
      data: { spec: { seq: number } };
    }[];
    assert.equal(rows.length, published.length, 'no event stored twice');
    assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(published.map((e) => e.id)));
    for (let s = 0; s < STREAMS; s++) {
      const mine = (stream: string) => stream.endsWith(`/svc-${s}`);
      assert.deepEqual(
        rows.filter((r) => mine(r.stream)).map((r) => r.data.spec.seq),
        published.filter((e) => mine(e.stream)).map((e) => (e.data.spec as { seq: number }).seq),
        `stream svc-${s} in publish order`,
      );
    }
    const v = await verify(new EventStore(pool));
    if (!v.ok) {
      const dump =
        await pool.query(`select transaction_id::text as txid, min(position), max(position), count(*)
        from events group by transaction_id order by transaction_id`);
      const seals = await pool.query(
        'select seq, transaction_id::text as txid, position, event_count from chain_seals order by seq',
      );
      console.error(JSON.stringify({ groups: dump.rows, seals: seals.rows }));
    }
    assert.equal(v.ok, true, JSON.stringify(v));
  } finally {
    await pool.end();
  }
}

describe('ingest under faults (own nats-server and PostgreSQL cluster)', () => {
  let dir: string;
  let postgres: ManagedProcess;
  let pgBase: string;
  let n = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-ingest-faults-'));
    const started = await startPostgresCluster(
      { dataDir: dir, port: await freePort(), name: 'pg-faults' },
      silentLogger(),
    );
    postgres = started.process;
    pgBase = started.url;
  });
  after(async () => {
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function fresh(): Promise<{ nats: TestNatsServer; cfg: IngestConfig }> {
    const url = new URL(pgBase);
    url.pathname = `/faults_${++n}`;
    await createDatabase(url.toString());
    const nats = await startNatsServer();
    const cfg = ingestConfig({
      natsUrl: nats.url,
      databaseUrl: url.toString(),
      batchSize: 100,
      ackWait: 2_000,
      pullExpires: 1_000,
      leaderRetry: 250,
      sealInterval: 500,
      adminPort: 0,
    });
    return { nats, cfg };
  }

  it('readAll orders by transaction id as a number across a power of ten (999 < 1000, unlike text)', async () => {
    const url = new URL(pgBase);
    url.pathname = '/faults_xid';
    await createDatabase(url.toString());
    await migrateDatabase(url.toString());
    const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
    try {
      const store = new EventStore(pool);
      const next = async () =>
        BigInt((await pool.query('select pg_current_xact_id()::text as x')).rows[0].x as string);
      const x = await next();
      const boundary = 10n ** BigInt(x.toString().length);
      // Burn transaction ids (one per subtransaction that writes) up to just below the boundary.
      await pool.query('create temporary table burn (i int)');
      await pool.query(
        `do $$ begin for i in 1..${boundary - x - 8n} loop
           begin insert into burn values (i); exception when others then null; end;
         end loop; end $$`,
      );
      const appended: string[] = [];
      for (let i = 0; i < 10; i++) {
        const e = resourceEvent('xid', 'svc', i);
        await store.append(e.stream, [
          { id: e.id, type: e.type, data: e.data, metadata: e.metadata, schemaVersion: 1 },
        ]);
        appended.push(e.id);
      }
      const txids = (
        await pool.query('select transaction_id::text as t from events order by position')
      ).rows.map((r) => BigInt(r.t as string));
      assert.ok(
        txids[0]! < boundary && txids.at(-1)! >= boundary,
        `txids ${txids.join(',')} straddle ${boundary}`,
      );
      const one = [];
      let cp = START;
      for (;;) {
        const page = await store.readAll(cp, 1);
        if (page.events.length === 0) break;
        one.push(page.events[0]!.id);
        cp = page.checkpoint;
      }
      assert.deepEqual(one, appended, 'paging one by one returns every event once, in order');
    } finally {
      await pool.end();
    }
  });

  it('kill -9 of the leading ingest process mid-stream: a standby takes over, nothing lost or doubled', async () => {
    const { nats, cfg } = await fresh();
    const env = {
      ...process.env,
      NATS_URL: cfg.natsUrl,
      DATABASE_URL: cfg.databaseUrl,
      INGEST_ADMIN_PORT: '0',
      INGEST_BATCH_SIZE: '100',
      INGEST_ACK_WAIT: '2s',
      INGEST_PULL_EXPIRES: '1s',
      INGEST_LEADER_RETRY: '250ms',
      INGEST_SEAL_INTERVAL: '500ms',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
    };
    const child = (): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', 'services/ingest/src/main.ts'], {
        cwd: root,
        env,
        stdio: 'ignore',
      });
    const first = child();
    const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 1 });
    let standby: ChildProcess | undefined;
    try {
      // Leading = holding the leader lock (the migration lock is another advisory lock).
      const leading = async () =>
        Number(
          (
            await pool.query(
              `select count(*) from pg_locks where locktype = 'advisory' and granted
                 and objid = (hashtext('shoal-ingest:' || $1::text)::bigint & 4294967295)`,
              [cfg.consumer],
            )
          ).rows[0].count,
        ) > 0;
      await waitFor('first ingest leading', leading, { timeoutMs: 20_000 });
      standby = child();
      const pub = steadyPublisher(nats.url, 'east');
      await waitFor(
        'the first ingest to be mid-stream',
        async () =>
          Number((await pool.query('select count(*) from events')).rows[0].count) > TOTAL / 4,
        { timeoutMs: 20_000, intervalMs: 20 },
      );
      first.kill('SIGKILL');
      const stored = Number((await pool.query('select count(*) from events')).rows[0].count);
      assert.ok(stored < TOTAL, 'killed while events were still flowing');
      const published = await pub.done;
      await assertExactlyOnceInOrder(cfg.databaseUrl, published);
    } finally {
      first.kill('SIGKILL');
      standby?.kill('SIGTERM');
      await pool.end();
      await nats.dispose();
    }
  });

  it('NATS restart during a steady stream: every event stored once, in order, chain verifies', async () => {
    const { nats, cfg } = await fresh();
    const ingest = createIngest(cfg, { logger: silentLogger(), registry: new Registry() });
    await ingest.start();
    try {
      const pub = steadyPublisher(nats.url, 'north');
      await sleep(600);
      await nats.stop();
      await sleep(500);
      await nats.start();
      const published = await pub.done;
      await assertExactlyOnceInOrder(cfg.databaseUrl, published);
    } finally {
      await ingest.close();
      await nats.dispose();
    }
  });

  it('PostgreSQL restart during a steady stream: every event stored once, in order, chain verifies', async () => {
    const { nats, cfg } = await fresh();
    const ingest = createIngest(cfg, { logger: silentLogger(), registry: new Registry() });
    await ingest.start();
    try {
      const pub = steadyPublisher(nats.url, 'south');
      await sleep(600);
      await postgres.stop();
      await sleep(300);
      await postgres.start();
      const published = await pub.done;
      await assertExactlyOnceInOrder(cfg.databaseUrl, published);
    } finally {
      await ingest.close();
      await nats.dispose();
    }
  });
});
