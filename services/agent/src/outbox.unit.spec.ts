import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newEventId, type EventEnvelope } from './core/envelope.js';
import { Outbox, type OutboxInput } from './outbox.js';
import { nextWindow } from './publisher.js';
import { tempDir } from './testing/helpers.js';

const ev = (name: string, hash: string | null): OutboxInput => {
  const envelope: EventEnvelope = {
    id: newEventId(),
    stream: `resource/c/Service/default/${name}`,
    type: hash ? 'ResourceUpserted' : 'ResourceDeleted',
    data: { cluster: 'c', kind: 'Service', namespace: 'default', name },
    metadata: {
      actor: 'agent/c',
      source: 'agent/test',
      cluster: 'c',
      observedAt: new Date().toISOString(),
    },
    schemaVersion: 1,
  };
  return {
    subject: 'shoal.ev.c.Service',
    envelope,
    ledger: { key: `Service/default/${name}`, entry: hash ? { hash } : null },
  };
};

describe('outbox (durable buffer)', () => {
  it('given appended records, when reopened, then pending records and the ledger come back in order', async () => {
    const dir = tempDir('shoal-outbox-');
    try {
      const { outbox } = await Outbox.open(dir.path);
      await outbox.append([ev('a', 'h1'), ev('b', 'h2')]);
      await outbox.append([ev('a', 'h3'), ev('b', null)]);
      await outbox.ack(1);
      await outbox.close();
      const again = await Outbox.open(dir.path);
      assert.deepEqual(
        again.outbox.pending().map((r) => r.seq),
        [2, 3, 4],
      );
      assert.deepEqual([...again.ledger], [['Service/default/a', { hash: 'h3' }]]);
      assert.equal(again.outbox.lastSeq, 4);
      await again.outbox.close();
    } finally {
      dir.remove();
    }
  });

  it('given a torn last record (crash mid-write), when reopened, then it is cut off and appends continue', async () => {
    const dir = tempDir('shoal-outbox-');
    try {
      const { outbox } = await Outbox.open(dir.path);
      await outbox.append([ev('a', 'h1'), ev('b', 'h2')]);
      await outbox.close();
      const seg = join(
        dir.path,
        readdirSync(dir.path).find((f) => f.endsWith('.seg'))!,
      );
      truncateSync(seg, statSync(seg).size - 5);
      appendFileSync(seg, Buffer.alloc(0));
      const again = await Outbox.open(dir.path);
      assert.deepEqual(
        again.outbox.pending().map((r) => r.envelope.data.name),
        ['a'],
      );
      await again.outbox.append([ev('c', 'h3')]);
      await again.outbox.close();
      const third = await Outbox.open(dir.path);
      assert.deepEqual(
        third.outbox.pending().map((r) => [r.seq, r.envelope.data.name]),
        [
          [1, 'a'],
          [2, 'c'],
        ],
      );
      await third.outbox.close();
    } finally {
      dir.remove();
    }
  });

  it('given acked segments and a ledger snapshot, then old segments are deleted and the ledger survives', async () => {
    const dir = tempDir('shoal-outbox-');
    try {
      const { outbox, ledger } = await Outbox.open(dir.path, { maxSegmentBytes: 600 });
      for (let i = 0; i < 20; i++) {
        const e = ev(`r${i}`, `h${i}`);
        await outbox.append([e]);
        ledger.set(e.ledger!.key, e.ledger!.entry!);
      }
      assert.ok(readdirSync(dir.path).filter((f) => f.endsWith('.seg')).length > 3);
      await outbox.ack(20);
      await outbox.saveLedger(ledger);
      assert.equal(readdirSync(dir.path).filter((f) => f.endsWith('.seg')).length, 1);
      await outbox.close();
      const again = await Outbox.open(dir.path);
      assert.equal(again.ledger.size, 20);
      assert.equal(again.outbox.pendingCount, 0);
      await again.outbox.append([ev('x', 'hx')]);
      assert.equal(again.outbox.lastSeq, 21);
      await again.outbox.close();
    } finally {
      dir.remove();
    }
  });

  it('windows hold at most one event per resource, so a partial re-send cannot reorder a resource', async () => {
    const dir = tempDir('shoal-outbox-');
    try {
      const { outbox } = await Outbox.open(dir.path);
      await outbox.append([ev('a', '1'), ev('b', '1'), ev('a', '2'), ev('c', '1')]);
      assert.deepEqual(
        nextWindow(outbox, 10).map((r) => r.seq),
        [1, 2],
      );
      assert.deepEqual(
        nextWindow(outbox, 1).map((r) => r.seq),
        [1],
      );
      await outbox.close();
    } finally {
      dir.remove();
    }
  });
});
