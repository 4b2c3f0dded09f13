import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { waitFor } from '@shoal/common';
import { canonicalJson } from './canonical.js';
import { newEventId } from './envelope.js';
import type { EventStore } from './event-store.js';
import { hashEvent, toRecorded } from './event-store.js';
import { seal, verify } from './hash-chain.js';
import { testStore, type TestStore } from './testing.js';

const meta = { actor: 'test', source: 'spec', cluster: 'c1', observedAt: '2025-01-01T00:00:00Z' };

describe('hash chain: seal and verify (real PostgreSQL)', () => {
  let t: TestStore;
  let pool: TestStore['pool'];
  let store: EventStore;

  before(async () => {
    t = await testStore('shoal_hc');
    ({ pool, store } = t);
  });
  after(() => t.close());
  beforeEach(async () => {
    // Each case starts from an untampered log of 3 streams x 4 events, with one seal over it.
    await pool.query('alter table events disable trigger user');
    await pool.query('truncate events, streams, chain_seals');
    await pool.query('alter table events enable trigger user');
    for (let v = 1; v <= 4; v++) {
      for (const s of ['a', 'b', 'c']) {
        await store.append(`rollout/${s}`, [
          {
            id: newEventId(),
            type: 'RolloutStarted',
            data: { s, v, nested: { x: [1, 2] } },
            metadata: meta,
            schemaVersion: 1,
          },
        ]);
      }
    }
    // Transactions of other tests on this server hold the safe horizon back for a moment.
    await waitFor(
      'the safe read horizon to pass our events',
      async () => !(await store.hasUnsafeTail()),
    );
    assert.equal((await seal(store))?.eventCount, 12);
    assert.equal(await seal(store), undefined, 'nothing new to seal');
  });

  const positionOf = async (stream: string, version: number) =>
    Number(
      (
        await pool.query('select position from events where stream = $1 and stream_version = $2', [
          stream,
          version,
        ])
      ).rows[0].position,
    );
  const tamper = async (sql: string, params: unknown[]) => {
    await pool.query('alter table events disable trigger events_append_only');
    try {
      await pool.query(sql, params);
    } finally {
      await pool.query('alter table events enable trigger events_append_only');
    }
  };

  it('an untampered log verifies', async () => {
    assert.deepEqual(await verify(store), { ok: true, events: 12, seals: 1 });
  });

  it('the log refuses UPDATE and DELETE through the append-only trigger', async () => {
    await assert.rejects(pool.query("update events set data = '{}'"), /append-only/);
    await assert.rejects(pool.query('delete from events'), /append-only/);
  });

  it('a changed payload is named by its position', async () => {
    const p = await positionOf('rollout/b', 2);
    await tamper(
      `update events set data = jsonb_set(data, '{nested,x,1}', '3') where position = $1`,
      [p],
    );
    const r = await verify(store);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.position, p);
      assert.equal(r.stream, 'rollout/b');
      assert.match(r.reason, /content does not match its hash/);
    }
  });

  it('a changed payload whose hash was recomputed is still named by its position', async () => {
    const p = await positionOf('rollout/a', 2);
    const row = toRecorded(
      (
        await pool.query(
          'select *, transaction_id::text as transaction_id from events where position = $1',
          [p],
        )
      ).rows[0],
    );
    const data = { ...row.data, v: 99 };
    const forged = hashEvent(row.prevHash, { ...row, data });
    await tamper('update events set data = $2::jsonb, hash = $3 where position = $1', [
      p,
      canonicalJson(data),
      forged,
    ]);
    const r = await verify(store);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.position, p);
  });

  it('a deleted last event of a stream is detected', async () => {
    const p = await positionOf('rollout/c', 4);
    await tamper('delete from events where position = $1', [p]);
    const r = await verify(store);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.stream, 'rollout/c');
  });

  it('a deleted tail event with its stream head rewritten is caught by the seal', async () => {
    const p = await positionOf('rollout/c', 4);
    const prev = await pool.query(
      'select hash from events where stream = $1 and stream_version = 3',
      ['rollout/c'],
    );
    await tamper('delete from events where position = $1', [p]);
    await pool.query('update streams set version = 3, last_hash = $1 where stream = $2', [
      prev.rows[0].hash,
      'rollout/c',
    ]);
    const r = await verify(store);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /seal \d+ \(up to position \d+\) no longer matches/);
  });
});
