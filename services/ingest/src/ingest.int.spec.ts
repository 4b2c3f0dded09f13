import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { Registry } from 'prom-client';
import { Consumers, Streams, Subjects, silentLogger, waitFor } from '@shoal/common';
import { EventStore, verify } from '@shoal/db';
import {
  startNatsServer,
  tempDatabase,
  type TempDatabase,
  type TestNatsServer,
} from '@shoal/testkit';
import { ingestConfig } from './config.js';
import { publishEvent, resourceEvent } from './fixtures.js';
import { DeadLetterHeaders, createIngest, leaderSessionName, type Ingest } from './ingest.js';

describe('ingest: JetStream → event store (own nats-server, real PostgreSQL)', () => {
  let nats: TestNatsServer;
  let db: TempDatabase;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let pool: pg.Pool;
  const registries = [new Registry(), new Registry()];
  let ingests: Ingest[] = [];

  before(async () => {
    [nats, db] = await Promise.all([startNatsServer(), tempDatabase('shoal_ing')]);
    const cfg = ingestConfig({
      natsUrl: nats.url,
      databaseUrl: db.url,
      maxEventBytes: 4096,
      batchSize: 50,
      ackWait: 2_000,
      pullExpires: 1_000,
      sealInterval: 0,
    });
    ingests = registries.map((registry) => createIngest(cfg, { logger: silentLogger(), registry }));
    await Promise.all(ingests.map((i) => i.start()));
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  after(async () => {
    await Promise.all(ingests.map((i) => i.close()));
    await nc.close();
    await pool.end();
    await Promise.all([nats.dispose(), db.drop()]);
  });

  it('stores every valid event once, in per-stream order, and dead-letters each bad one with its reason', async () => {
    const valid = [];
    const bad: { reason: string; publish: () => Promise<unknown> }[] = [];
    const enc = new TextEncoder();
    for (let i = 0; i < 200; i++) {
      const e = resourceEvent('east', `svc-${i % 7}`, i);
      valid.push(e);
      await publishEvent(js, e);
      if (i === 20) {
        bad.push({
          reason: 'malformed-json',
          publish: () => js.publish(Subjects.event('east', 'Service'), enc.encode('{"id": oops')),
        });
        const wrong = { ...resourceEvent('east', 'svc-x', 0), schemaVersion: 9 };
        bad.push({ reason: 'unsupported-schema-version', publish: () => publishEvent(js, wrong) });
        const big = resourceEvent('east', 'svc-big', 0, { padding: 8000 });
        bad.push({ reason: 'too-large', publish: () => publishEvent(js, big) });
        const twin = { ...e, data: { ...e.data, spec: { changed: true } } };
        bad.push({
          reason: 'event-id-conflict',
          publish: () => publishEvent(js, twin, { msgId: false }),
        });
        const foreign = resourceEvent('west', 'svc-w', 0);
        bad.push({
          reason: 'cluster-mismatch',
          publish: () => js.publish(Subjects.event('east', 'Service'), JSON.stringify(foreign)),
        });
        const unknown = { ...resourceEvent('east', 'svc-u', 0), type: 'ResourceTeleported' };
        bad.push({ reason: 'unknown-type', publish: () => publishEvent(js, unknown) });
        for (const b of bad) await b.publish();
      }
    }
    const dup = await publishEvent(js, valid[5]!);
    assert.equal(dup.duplicate, true, 'JetStream drops a republished event id');

    const store = new EventStore(pool);
    await waitFor(
      'all valid events stored',
      async () =>
        (await store.headPosition()) > 0 &&
        Number((await pool.query('select count(*) from events')).rows[0].count) >= valid.length,
      { timeoutMs: 20_000 },
    );
    const jsm = await jetstreamManager(nc);
    await waitFor(
      'all bad events dead-lettered',
      async () => (await jsm.streams.info(Streams.deadLetter)).state.messages >= bad.length,
      { timeoutMs: 10_000 },
    );

    const rows = (
      await pool.query(
        'select event_id, stream, stream_version, data from events order by position',
      )
    ).rows as {
      event_id: string;
      stream: string;
      stream_version: string;
      data: { spec: { seq: number } };
    }[];
    assert.equal(rows.length, valid.length, 'each valid event exactly once');
    assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(valid.map((e) => e.id)));
    for (let s = 0; s < 7; s++) {
      const stream = `resource/east/Service/default/svc-${s}`;
      const seqs = rows.filter((r) => r.stream === stream).map((r) => r.data.spec.seq);
      assert.deepEqual(
        seqs,
        valid.filter((e) => e.stream === stream).map((e) => (e.data.spec as { seq: number }).seq),
        `${stream} in publish order`,
      );
    }
    assert.deepEqual((await verify(store)).ok, true);

    const reasons: Record<string, string> = {};
    const dlq = await js.consumers.get(Streams.deadLetter);
    const msgs = await dlq.fetch({ max_messages: bad.length, expires: 2000 });
    for await (const m of msgs) {
      reasons[m.headers!.get(DeadLetterHeaders.reason)] = m.headers!.get(DeadLetterHeaders.detail);
      assert.equal(m.subject, Subjects.deadLetter(m.headers!.get(DeadLetterHeaders.reason)));
      if (Object.keys(reasons).length === bad.length) break;
    }
    assert.deepEqual(Object.keys(reasons).sort(), bad.map((b) => b.reason).sort());
    assert.match(reasons['too-large']!, /the limit is 4096/);
    assert.match(
      reasons['unsupported-schema-version']!,
      /schemaVersion: 9 of ResourceUpserted is not supported/,
    );
    assert.match(
      reasons['event-id-conflict']!,
      /event id \S+ (is already stored at position \d+|appears twice in one append) .*with different content/,
    );
    assert.match(reasons['cluster-mismatch']!, /metadata.cluster "west"/);

    assert.equal(ingests.filter((i) => i.isLeader()).length, 1, 'exactly one ingest leads');
    // The leader's session is fenced (stall timeout, keepalives) and named for operators.
    const sessions = await pool.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = $1',
      [leaderSessionName(Consumers.ingest)],
    );
    assert.equal(sessions.rows[0]!.n, 1, 'one fenced leader session');
    const leader = registries[ingests.findIndex((i) => i.isLeader())]!;
    const text = await leader.metrics();
    assert.match(text, /shoal_ingest_events_total\{result="appended"\} 200/);
    assert.match(text, /shoal_ingest_dead_lettered_total\{reason="malformed-json"\} 1/);
    assert.match(text, /shoal_ingest_batch_size_count \d+/);
  });
});
