import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { silentLogger, waitFor } from '@shoal/common';
import type { EventStore } from '@shoal/db';
import { newEventId, resourceStream, type NewEvent } from '@shoal/db';
import { testStore, type TestStore } from '@shoal/db/testing';
import { projectorConfig } from './config.js';
import { foldInto, type DesiredState } from './evolve.js';
import { createProjector } from './projector.js';

const meta = { actor: 'test', source: 'spec', cluster: 'east', observedAt: '2025-01-01T00:00:00Z' };

describe('projector (real PostgreSQL)', () => {
  let t: TestStore;
  let pool: pg.Pool;
  let store: EventStore;
  const cfg = () =>
    projectorConfig({
      databaseUrl: t.url,
      snapshotEvery: 100,
      batchSize: 40,
      pollInterval: 60_000,
    });

  before(async () => {
    t = await testStore('shoal_proj');
    ({ pool, store } = t);
  });
  after(() => t.close());

  /** Append `n` upserts/deletes over 15 resources; every 7th event deletes. */
  async function appendEvents(n: number, from: number) {
    for (let i = from; i < from + n; i++) {
      const key = {
        cluster: 'east',
        kind: i % 2 ? 'Service' : 'HTTPRoute',
        namespace: 'shop',
        name: `r${i % 15}`,
      };
      const e: NewEvent =
        i % 7 === 6
          ? {
              id: newEventId(),
              type: 'ResourceDeleted',
              data: key,
              metadata: meta,
              schemaVersion: 1,
            }
          : {
              id: newEventId(),
              type: 'ResourceUpserted',
              data: { ...key, spec: { i, tags: ['a', String(i)] } },
              metadata: meta,
              schemaVersion: 1,
            };
      await store.append(resourceStream(key), [e]);
    }
  }

  /** The naive answer: fold every event up to a position from zero. */
  async function naiveStateAt(position: number): Promise<DesiredState> {
    const rows = (
      await pool.query(
        'select type, data, position, recorded_at from events where position <= $1 order by position',
        [position],
      )
    ).rows;
    const state: DesiredState = new Map();
    foldInto(
      state,
      rows.map((r: { type: string; data: never; position: string; recorded_at: Date }) => ({
        type: r.type,
        data: r.data,
        position: Number(r.position),
        recordedAt: r.recorded_at,
      })),
    );
    return state;
  }
  const table = async () =>
    (
      await pool.query(
        'select cluster, kind, namespace, name, spec, position::int from resources order by kind, name',
      )
    ).rows;
  const head = async () =>
    Number((await pool.query('select max(position) as p from events')).rows[0].p);

  it('follows the log, survives a restart from its checkpoint, rebuilds to the same state, and answers stateAt', async () => {
    await appendEvents(250, 0);
    const p1 = createProjector(cfg(), { logger: silentLogger(), registry: new Registry() });
    await p1.start();
    await waitFor(
      'checkpoint at head',
      async () =>
        Number(
          (
            await pool.query(
              "select position from consumer_checkpoints where consumer = 'projector:resources'",
            )
          ).rows[0]?.position ?? 0,
        ) === (await head()),
    );
    const expected = await naiveStateAt(await head());
    assert.equal(p1.state().size, expected.size);
    assert.deepEqual(
      (await table()).map((r: { name: string; kind: string }) => `${r.kind}/${r.name}`).sort(),
      [...expected.values()].map((r) => `${r.kind}/${r.name}`).sort(),
    );
    await p1.close();

    // Restart: resume from the checkpoint; new events wake it through NOTIFY (the poll is 60 s).
    const p2 = createProjector(cfg(), { logger: silentLogger(), registry: new Registry() });
    await p2.start();
    await appendEvents(120, 250);
    await waitFor(
      'restarted projector caught up',
      async () =>
        Number(
          (
            await pool.query(
              "select position from consumer_checkpoints where consumer = 'projector:resources'",
            )
          ).rows[0]?.position ?? 0,
        ) === (await head()),
      { timeoutMs: 30_000 },
    );
    const live = await table();
    assert.deepEqual(
      live.map((r: { spec: unknown }) => r.spec),
      [...(await naiveStateAt(await head())).values()]
        .sort((a, b) => (a.kind + a.name < b.kind + b.name ? -1 : 1))
        .map((r) => r.spec),
    );

    const rebuilt = await p2.rebuild();
    assert.equal(rebuilt.events, 370);
    assert.deepEqual(await table(), live, 'rebuild from 0 gives the same table');
    const snaps = Number(
      (await pool.query('select count(*) from projection_snapshots')).rows[0].count,
    );
    assert.ok(snaps >= 3, `snapshots taken (${snaps})`);

    for (const p of [1, 57, 99, 100, 101, 222, 301, 370]) {
      const at = await p2.stateAt({ position: p });
      assert.deepEqual(at.state, await naiveStateAt(p), `stateAt(${p})`);
      assert.ok(
        at.replayed <= 140,
        `stateAt(${p}) replayed ${at.replayed} events, not the log from zero`,
      );
    }
    const t = (await pool.query('select recorded_at from events where position = 200')).rows[0]
      .recorded_at as Date;
    const byTime = await p2.stateAt({ timestamp: t });
    assert.ok(byTime.checkpoint!.position >= 200);
    assert.deepEqual(byTime.state, await naiveStateAt(byTime.checkpoint!.position));
    assert.equal((await p2.stateAt({ position: 0 })).state.size, 0);
    await p2.close();
  });
});
