import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { silentLogger } from '@shoal/common';
import { sleep, tempDatabase } from '@shoal/testkit';
import { newEventId } from './envelope.js';
import { ConcurrencyConflictError, EventIdConflictError } from './errors.js';
import type { EventStore } from './event-store.js';
import { START, type NewEvent, type RecordedEvent } from './event-store.js';
import { migrateDatabase } from './migrate.js';
import { subscribe } from './subscription.js';
import { testStore, type TestStore } from './testing.js';

const meta = { actor: 'test', source: 'spec', cluster: 'c1', observedAt: '2025-01-01T00:00:00Z' };
const ev = (data: Record<string, number | string> = {}, type = 'RolloutStarted'): NewEvent => ({
  id: newEventId(),
  type,
  data,
  metadata: meta,
  schemaVersion: 1,
});

describe('EventStore (real PostgreSQL)', () => {
  let t: TestStore;
  let pool: pg.Pool;
  let store: EventStore;

  before(async () => {
    t = await testStore('shoal_es', { maxConnections: 12 });
    await migrateDatabase(t.url); // a second start applies nothing
    ({ pool, store } = t);
  });
  after(() => t.close());

  it('appends with expected versions and reads a stream back in order', async () => {
    const r1 = await store.append('rollout/a', [ev({ n: 1 }), ev({ n: 2 })], {
      expectedVersion: 'no-stream',
    });
    assert.equal(r1.version, 2);
    assert.equal(r1.appended, 2);
    assert.ok(r1.positions[0]! < r1.positions[1]!);
    const r2 = await store.append('rollout/a', [ev({ n: 3 })], { expectedVersion: 2 });
    assert.equal(r2.version, 3);
    const read = await store.readStream('rollout/a');
    assert.deepEqual(
      read.map((e) => [e.streamVersion, e.data.n]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    assert.equal(read[1]!.prevHash, read[0]!.hash, 'each event chains to its predecessor');

    await assert.rejects(
      store.append('rollout/a', [ev()], { expectedVersion: 2 }),
      (err: unknown) => {
        assert.ok(err instanceof ConcurrencyConflictError);
        assert.deepEqual([err.stream, err.expected, err.actual], ['rollout/a', 2, 3]);
        return true;
      },
    );
    await assert.rejects(
      store.append('rollout/a', [ev()], { expectedVersion: 'no-stream' }),
      ConcurrencyConflictError,
    );
    assert.equal(
      (await store.readStream('rollout/a')).length,
      3,
      'a rejected append writes nothing',
    );
  });

  it('is idempotent on event id, and refuses a reused id with different content', async () => {
    const e = ev({ n: 1 });
    const first = await store.append('rollout/idem', [e]);
    const again = await store.append('rollout/idem', [e], { expectedVersion: 0 });
    assert.deepEqual(again.positions, first.positions, 'a repeat returns the original position');
    assert.equal(again.appended, 0);
    const twice = await store.append(
      'rollout/idem',
      [ev({ n: 2 }), ev({ n: 2 })].map((x, i, a) => (i ? { ...a[0]! } : x)),
    );
    assert.equal(twice.appended, 1, 'the same event twice in one append is stored once');
    assert.equal(twice.positions[0], twice.positions[1]);
    const rows = await pool.query('select count(*)::int as n from events where stream = $1', [
      'rollout/idem',
    ]);
    assert.equal(rows.rows[0].n, 2);

    await assert.rejects(
      store.append('rollout/idem', [{ ...e, data: { n: 99 } }]),
      (err: unknown) => {
        assert.ok(err instanceof EventIdConflictError);
        assert.equal(err.eventId, e.id);
        assert.equal(err.position, first.positions[0]);
        return true;
      },
    );
  });

  it('readAll does not pass a transaction that commits late, while later positions commit first', async () => {
    const { checkpoint: from } = await drain(store, START);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const slowInserted = new Promise<void>((r) => (inserted = r));
    const slow = store.appendMany([{ stream: 'slow/1', events: [ev({ who: 'slow' })] }], {
      beforeCommit: async () => {
        inserted();
        await gate;
      },
    });
    await slowInserted;
    const fast = await store.append('fast/1', [ev({ who: 'fast' })]);
    const slowPos = (
      await pool.query("select max(position)::int as p from events where stream = 'slow/1'")
    ).rows[0].p as number | null;
    assert.equal(slowPos, null, 'the slow row is not visible yet');

    const blocked = await store.readAll(from, 100);
    assert.deepEqual(blocked.events, [], 'the fast event waits behind the open slow transaction');
    assert.equal(await store.hasUnsafeTail(), true);
    release();
    const [slowResult] = await slow;
    assert.ok(
      slowResult!.positions[0]! < fast.positions[0]!,
      'the slow event has the lower position',
    );
    const after = await drain(store, blocked.checkpoint);
    assert.deepEqual(
      after.events.map((e) => e.data.who),
      ['slow', 'fast'],
    );
  });

  it('a long transaction that does not append (in another database, or a report here) does not hold readers back', async () => {
    // The first horizon (pg_snapshot_xmin) was server-wide: one idle-in-transaction session in
    // any database stopped every reader of the store. Both sessions below hold a transaction id.
    const { checkpoint: from } = await drain(store, START);
    const other = await tempDatabase('shoal_es_other');
    const elsewhere = new pg.Client({ connectionString: other.url });
    const here = new pg.Client({ connectionString: t.url });
    await Promise.all([elsewhere.connect(), here.connect()]);
    try {
      await elsewhere.query('begin; create table t (x int); insert into t values (1)');
      await here.query('begin; select count(*) from events');
      await here.query('select pg_current_xact_id()'); // an xid, like a report that writes
      const written = await store.append('report/1', [ev({ n: 1 })]);
      const page = await store.readAll(from, 100);
      assert.deepEqual(
        page.events.map((e) => e.position),
        written.positions,
        'the new event is readable while both transactions stay open',
      );
      assert.equal(await store.hasUnsafeTail(), false);
    } finally {
      await elsewhere.query('rollback').catch(() => undefined);
      await here.query('rollback').catch(() => undefined);
      await Promise.all([elsewhere.end(), here.end()]);
      await other.drop();
    }
  });

  it('readAll delivers every event exactly once under many concurrent writers with delayed commits', async () => {
    const { checkpoint: from } = await drain(store, START);
    const seen: RecordedEvent[] = [];
    let done = false;
    const reader = (async () => {
      let cp = from;
      // Done when nothing is left to read: not while a transaction of some other session on
      // the (shared) server holds the horizon back over events already committed. (Horizon
      // first: once nothing committed is past it, the read that follows sees everything.)
      const more = async () =>
        (await store.hasUnsafeTail()) || (await store.readAll(cp, 1)).events.length > 0;
      while (!done || (await more())) {
        const page = await store.readAll(cp, 50);
        seen.push(...page.events);
        cp = page.checkpoint;
        await sleep(2);
      }
    })();
    const written: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 15; i++) {
          const res = await store.appendMany(
            [{ stream: `conc/${w}`, events: [ev({ w, i }), ev({ w, i })] }],
            { beforeCommit: () => sleep(Math.floor(Math.random() * 25)) },
          );
          written.push(...res[0]!.positions);
        }
      }),
    );
    done = true;
    await reader;
    assert.equal(seen.length, written.length);
    assert.deepEqual(
      [...new Set(seen.map((e) => e.position))].sort((a, b) => a - b),
      [...written].sort((a, b) => a - b),
    );
    for (let w = 0; w < 8; w++) {
      const versions = seen.filter((e) => e.stream === `conc/${w}`).map((e) => e.streamVersion);
      assert.deepEqual(
        versions,
        Array.from({ length: 30 }, (_, i) => i + 1),
        `stream conc/${w} in order`,
      );
    }
  });

  it('subscribe wakes on NOTIFY, without waiting for its (long) safety poll', async () => {
    const { checkpoint: from } = await drain(store, START);
    const got: RecordedEvent[] = [];
    const sub = subscribe(store, {
      from,
      logger: silentLogger(),
      pollIntervalMs: 60_000,
      handler: async (events) => {
        got.push(...events);
      },
    });
    try {
      await sleep(300); // let it LISTEN and go idle
      const t0 = Date.now();
      const r = await store.append('notify/1', [ev({ n: 1 })]);
      while (got.length === 0 && Date.now() - t0 < 5_000) await sleep(10);
      assert.deepEqual(
        got.map((e) => e.position),
        r.positions,
      );
      assert.ok(Date.now() - t0 < 2_000, `woken in ${Date.now() - t0} ms`);
      assert.deepEqual(sub.checkpoint, {
        transactionId: got[0]!.transactionId,
        position: got[0]!.position,
      });
    } finally {
      await sub.close();
    }
  });
});

/**
 * Read to the end of the log. Other tests share this PostgreSQL server, and any transaction
 * open anywhere on it holds the safe read horizon back: wait until nothing committed is held.
 */
async function drain(store: EventStore, from: typeof START) {
  const events: RecordedEvent[] = [];
  let cp = from;
  for (;;) {
    const page = await store.readAll(cp, 1000);
    events.push(...page.events);
    cp = page.checkpoint;
    if (page.events.length === 0) {
      // Horizon first, then one more read: an empty page read before the horizon moved on
      // says nothing about the events that were behind it.
      if (!(await store.hasUnsafeTail()) && (await store.readAll(cp, 1)).events.length === 0)
        return { events, checkpoint: cp };
      await sleep(20);
    }
  }
}
