import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { PreparedAppend, StreamHeads } from './append.js';
import { newEventId } from './envelope.js';
import type { EventStore } from './event-store.js';
import { type NewEvent } from './event-store.js';
import { verify } from './hash-chain.js';
import { testStore, type TestStore } from './testing.js';

const meta = { actor: 'test', source: 'spec', cluster: 'c1', observedAt: '2025-01-01T00:00:00Z' };
const ev = (n: number): NewEvent => ({
  id: newEventId(),
  type: 'RolloutStarted',
  data: { n },
  metadata: meta,
  schemaVersion: 1,
});

describe('appending batches hashed ahead (PreparedAppend + StreamHeads, real PostgreSQL)', () => {
  let t: TestStore;
  let store: EventStore;

  before(async () => {
    t = await testStore('shoal_append');
    store = t.store;
  });
  after(() => t.close());

  const data = async (stream: string) =>
    (await store.readStream(stream)).map((e) => [e.streamVersion, e.data.n]);

  it('given batches hashed ahead, each onto the heads the one before will leave: then each is written by one statement', async () => {
    const heads = new StreamHeads();
    const first = new PreparedAppend(
      [
        { stream: 'ahead/1', events: [ev(1), ev(2)] },
        { stream: 'ahead/2', events: [ev(3)] },
      ],
      heads,
    );
    await store.appendMany(first); // new streams: hashed under lock, then known
    const second = new PreparedAppend(
      [
        { stream: 'ahead/1', events: [ev(4)] },
        { stream: 'ahead/2', events: [ev(5)] },
      ],
      heads,
    );
    // Hashed before `second` commits, onto the head `second` will leave.
    const third = new PreparedAppend([{ stream: 'ahead/1', events: [ev(6)] }], heads);
    const client = await t.pool.connect();
    try {
      const statements: string[] = [];
      const counting = {
        query: (...args: unknown[]) => {
          statements.push(String(args[0]));
          return (client.query as (...a: unknown[]) => unknown)(...args);
        },
      } as unknown as pg.ClientBase;
      const r2 = await store.appendMany(second, { client: counting });
      const r3 = await store.appendMany(third, { client: counting });
      assert.equal(statements.length, 2, 'one statement per batch: no begin, lock, lookup, commit');
      assert.deepEqual(
        [...r2, ...r3].map((r) => [r.stream, r.version, r.appended]),
        [
          ['ahead/1', 3, 1],
          ['ahead/2', 2, 1],
          ['ahead/1', 4, 1],
        ],
      );
    } finally {
      client.release();
    }
    assert.deepEqual(await data('ahead/1'), [
      [1, 1],
      [2, 2],
      [3, 4],
      [4, 6],
    ]);
    assert.equal((await verify(store)).ok, true);
  });

  it('given heads assumed ahead, when another appender wrote in between: then the batch is appended under lock after what it wrote, and the chain verifies', async () => {
    const heads = new StreamHeads();
    await store.appendMany(new PreparedAppend([{ stream: 'moved/1', events: [ev(1)] }], heads));
    const ahead = new PreparedAppend(
      [
        { stream: 'moved/1', events: [ev(2)] },
        { stream: 'moved/2', events: [ev(3)] },
      ],
      heads,
    );
    await store.append('moved/1', [ev(99)]);
    const [r1, r2] = await store.appendMany(ahead);
    assert.deepEqual([r1!.version, r2!.version], [3, 1]);
    assert.deepEqual(await data('moved/1'), [
      [1, 1],
      [2, 99],
      [3, 2],
    ]);
    // What the batch under lock learnt is trusted again by the next one.
    const next = new PreparedAppend([{ stream: 'moved/1', events: [ev(4)] }], heads);
    assert.equal(next.oneStatement, true);
    assert.equal((await store.appendMany(next))[0]!.version, 4);
    assert.equal((await verify(store)).ok, true);
  });

  it('given a batch hashed ahead that repeats stored events (a redelivery after a lost ack): then they keep their positions and only the new ones are appended', async () => {
    const heads = new StreamHeads();
    const [e1, e2, e3] = [ev(1), ev(2), ev(3)];
    const [first] = await store.appendMany(
      new PreparedAppend([{ stream: 'again/1', events: [e1!, e2!] }], heads),
    );
    const [again, fresh] = await store.appendMany(
      new PreparedAppend(
        [
          { stream: 'again/1', events: [e2!] },
          { stream: 'again/1', events: [e3!] },
        ],
        heads,
      ),
    );
    assert.deepEqual(again!.positions, [first!.positions[1]]);
    assert.equal(again!.appended, 0);
    assert.deepEqual([fresh!.appended, fresh!.version], [1, 3]);
    // Appended the careful way from what was kept of the batch hashed ahead: the same content.
    assert.deepEqual(
      (await store.readStream('again/1')).map((e) => [e.id, e.data, e.metadata]),
      [e1!, e2!, e3!].map((e) => [e.id, e.data, e.metadata]),
    );
    assert.equal((await verify(store)).ok, true);
  });
});
