/**
 * `npm run bench -- ingest [--events 100000] [--rebuild-events 1000000]`
 *
 * 1. ingest_events_per_s: 1 KiB events waiting in JetStream (own nats-server) are consumed,
 *    validated, hash-chained, appended and acknowledged by ingest; clock from ingest's start to
 *    the last commit. The events are published first, outside the clock (publish_events_per_s):
 *    publishers are other processes in production, and here the publisher would share ingest's
 *    event loop, costing about as much CPU per event as ingest itself, so the figure would
 *    measure the load generator. Baseline raw_insert_events_per_s: the same rows inserted
 *    straight into the same table with batched multi-row INSERT (no NATS, no validation, no
 *    hashing). Target ingest ≥ 0.6 × raw.
 * 2. rebuild_1m_s: ResourceProjection.rebuild() over 1M hash-chained events (2,000 resources).
 *    Baseline raw_scan_1m_s: a plain ordered, paged SELECT of the same rows. Target ≤ 2 × raw.
 * 3. state_at_p50_ms: stateAt(random past position) with the rebuild's snapshots. Target ≤ 250 ms.
 * Databases are fresh ones on $DATABASE_URL's server (default 127.0.0.1:5432), dropped after.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { Registry } from 'prom-client';
import { Subjects, silentLogger } from '@shoal/common';
import {
  EventStore,
  migrateDatabase,
  newEventId,
  resourceStream,
  type EventEnvelope,
} from '@shoal/db';
import { createIngest, ensureJetStream, ingestConfig } from '@shoal/ingest';
import { ResourceProjection, stateAt } from '@shoal/projector';
import { startNatsServer, tempDatabase } from '@shoal/testkit';

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('events', 100_000);
const M = arg('rebuild-events', 1_000_000);
const say = (s: string) => process.stdout.write(`${s}\n`);

function event(i: number, resources: number, padding: number): EventEnvelope {
  const data = {
    cluster: 'bench',
    kind: 'Service',
    namespace: 'default',
    name: `svc-${i % resources}`,
    spec: { i, port: 80, pad: 'x'.repeat(padding) },
  };
  return {
    id: newEventId(),
    stream: resourceStream(data),
    type: 'ResourceUpserted',
    data,
    metadata: {
      actor: 'agent:bench',
      source: 'bench',
      cluster: 'bench',
      observedAt: new Date().toISOString(),
    },
    schemaVersion: 1,
  };
}

async function publishAll(js: JetStreamClient, events: EventEnvelope[]) {
  const subject = Subjects.event('bench', 'Service');
  for (let i = 0; i < events.length; i += 2000) {
    await Promise.all(
      events.slice(i, i + 2000).map((e) => js.publish(subject, JSON.stringify(e), { msgID: e.id })),
    );
  }
}

async function countEvents(pool: pg.Pool) {
  return Number((await pool.query('select count(*) from events')).rows[0].count);
}

/**
 * Wait until `n` events are committed. Polls the highest position (one index probe) and counts
 * only once that reaches `n`: a count(*) every 20 ms scans the whole growing table, in parallel
 * workers, and took a large share of this 2-core machine away from the ingest being measured.
 */
async function waitForEvents(pool: pg.Pool, n: number) {
  for (;;) {
    const head = Number((await pool.query('select max(position) as p from events')).rows[0].p ?? 0);
    if (head >= n && (await countEvents(pool)) >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- 1. ingest vs raw insert ----
const events = Array.from({ length: N }, (_, i) => event(i, 1000, 850));
const bytes = JSON.stringify(events[0]).length;
say(`ingest: ${N} events of ~${bytes} bytes`);
const nats = await startNatsServer();
const ingestDb = await tempDatabase('shoal_bench_ingest');
const rawDb = await tempDatabase('shoal_bench_raw');
let ingestPerS = 0;
let publishPerS = 0;
let rawPerS = 0;
try {
  const cfg = ingestConfig({
    natsUrl: nats.url,
    databaseUrl: ingestDb.url,
    batchSize: 1000,
    adminPort: 0,
    sealInterval: 0,
  });
  // Schema and stream exist before the clock starts, as the baseline's table does.
  await migrateDatabase(ingestDb.url);
  const nc = await connect({ servers: nats.url });
  const ingest = createIngest(cfg, { logger: silentLogger(), registry: new Registry() });
  const pool = new pg.Pool({ connectionString: ingestDb.url, max: 2 });
  try {
    await ensureJetStream(await jetstreamManager(nc), cfg);
    const tp = performance.now();
    await publishAll(jetstream(nc), events);
    publishPerS = N / ((performance.now() - tp) / 1000);
    const t0 = performance.now();
    await ingest.start();
    await waitForEvents(pool, N);
    const t1 = performance.now();
    ingestPerS = N / ((t1 - t0) / 1000);
    say(
      `  published in ${(N / publishPerS).toFixed(2)} s (${publishPerS.toFixed(0)}/s, not timed); ingest stored all after ${((t1 - t0) / 1000).toFixed(2)} s`,
    );
  } finally {
    await ingest.close();
    await nc.close();
    await pool.end();
  }

  await migrateDatabase(rawDb.url);
  const raw = new pg.Pool({ connectionString: rawDb.url, max: 1 });
  try {
    const versions = new Map<string, number>();
    const t0 = performance.now();
    for (let i = 0; i < N; i += 1000) {
      const chunk = events.slice(i, i + 1000);
      const v = chunk.map((e) => {
        const n = (versions.get(e.stream) ?? 0) + 1;
        versions.set(e.stream, n);
        return n;
      });
      await raw.query(
        `insert into events (stream, stream_version, event_id, type, data, metadata, schema_version, recorded_at, hash, prev_hash)
         select s, v, id, t, d::jsonb, m::jsonb, 1, now(), '', ''
         from unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[]) as u(s, v, id, t, d, m)`,
        [
          chunk.map((e) => e.stream),
          v,
          chunk.map((e) => e.id),
          chunk.map((e) => e.type),
          chunk.map((e) => JSON.stringify(e.data)),
          chunk.map((e) => JSON.stringify(e.metadata)),
        ],
      );
    }
    rawPerS = N / ((performance.now() - t0) / 1000);
  } finally {
    await raw.end();
  }
} finally {
  await nats.dispose();
  await ingestDb.drop();
  await rawDb.drop();
}
say(
  `  ingest_events_per_s ${ingestPerS.toFixed(0)}  raw_insert_events_per_s ${rawPerS.toFixed(0)}  ratio ${(ingestPerS / rawPerS).toFixed(2)} (target ≥ 0.6)`,
);

// ---- 2. rebuild vs raw scan, 3. stateAt ----
const bigDb = await tempDatabase('shoal_bench_1m');
let rebuildS = 0;
let scanS = 0;
const stateAtMs: number[] = [];
let snapshots = 0;
try {
  await migrateDatabase(bigDb.url);
  const pool = new pg.Pool({ connectionString: bigDb.url, max: 4 });
  const store = new EventStore(pool);
  try {
    say(
      `rebuild: generating ${M} hash-chained events over 2000 resources (through the store's append)`,
    );
    const tg = performance.now();
    for (let i = 0; i < M; i += 5000) {
      const batch = Array.from({ length: Math.min(5000, M - i) }, (_, k) =>
        event(i + k, 2000, 100),
      );
      await store.appendMany(
        batch.map((e) => ({
          stream: e.stream,
          events: [
            { id: e.id, type: e.type, data: e.data, metadata: e.metadata, schemaVersion: 1 },
          ],
        })),
      );
    }
    say(`  generated in ${((performance.now() - tg) / 1000).toFixed(1)} s`);
    await pool.query('vacuum analyze events');

    // Baseline: a plain ordered SELECT of the same rows, paged like the rebuild reads.
    let t0 = performance.now();
    let after = 0;
    let seen = 0;
    for (;;) {
      const r = await pool.query(
        `select position, stream, stream_version, event_id, type, data, metadata, schema_version, recorded_at,
                transaction_id::text as transaction_id, hash, prev_hash
         from events where position > $1 order by position limit 10000`,
        [after],
      );
      if (r.rows.length === 0) break;
      seen += r.rows.length;
      after = Number(r.rows.at(-1).position);
    }
    scanS = (performance.now() - t0) / 1000;
    if (seen !== M) throw new Error(`scan saw ${seen} events, expected ${M}`);

    const projection = new ResourceProjection(store, { snapshotEvery: 10_000, pageSize: 10_000 });
    t0 = performance.now();
    const r = await projection.rebuild();
    rebuildS = (performance.now() - t0) / 1000;
    if (r.events !== M) throw new Error(`rebuild folded ${r.events} events, expected ${M}`);
    snapshots = Number(
      (await pool.query('select count(*) from projection_snapshots')).rows[0].count,
    );
    say(
      `  raw_scan_1m_s ${scanS.toFixed(2)}  rebuild_1m_s ${rebuildS.toFixed(2)}  ratio ${(rebuildS / scanS).toFixed(2)} (target ≤ 2); ${r.resources} resources, ${snapshots} snapshots`,
    );

    for (let k = 0; k < 40; k++) {
      const p = 1 + Math.floor(Math.random() * M);
      const t = performance.now();
      await stateAt(store, { position: p });
      stateAtMs.push(performance.now() - t);
    }
  } finally {
    await pool.end();
  }
} finally {
  await bigDb.drop();
}
stateAtMs.sort((a, b) => a - b);
const p50 = stateAtMs[Math.floor(stateAtMs.length / 2)]!;
say(
  `  state_at_p50_ms ${p50.toFixed(1)} (target ≤ 250); p90 ${stateAtMs[Math.floor(stateAtMs.length * 0.9)]!.toFixed(1)}`,
);

const result = {
  ingest_events_per_s: Math.round(ingestPerS),
  raw_insert_events_per_s: Math.round(rawPerS),
  rebuild_1m_s: Number(rebuildS.toFixed(3)),
  raw_scan_1m_s: Number(scanS.toFixed(3)),
  state_at_p50_ms: Number(p50.toFixed(1)),
  ratios: {
    ingest_vs_raw: Number((ingestPerS / rawPerS).toFixed(3)),
    rebuild_vs_scan: Number((rebuildS / scanS).toFixed(3)),
  },
  targets: { ingest_vs_raw_min: 0.6, rebuild_vs_scan_max: 2, state_at_p50_ms_max: 250 },
  detail: {
    ingest_events: N,
    publish_events_per_s: Math.round(publishPerS),
    event_bytes: bytes,
    rebuild_events: M,
    resources: 2000,
    snapshots,
    snapshot_every: 10_000,
    state_at_samples: stateAtMs.length,
  },
  measured_at: new Date().toISOString(),
};
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'ingest.json'), `${JSON.stringify(result, null, 2)}\n`);
say(`wrote ${join(dir, 'ingest.json')}`);
