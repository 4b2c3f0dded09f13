import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { requireEnv } from '@shoal/testkit';

// Proves the stack's NATS (reused or started by `npm test`) works from TypeScript with JetStream:
// a file-backed stream, a durable pull consumer, and resumption of that consumer on a new
// connection (the server, not the client, remembers what was acknowledged).
describe('NATS JetStream smoke (real server)', () => {
  const id = randomBytes(4).toString('hex');
  const stream = `SMOKE_${id}`;
  const subject = `smoke.${id}.events`;
  let nc: NatsConnection;

  before(async () => {
    nc = await connect({ servers: requireEnv('NATS_URL') });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`smoke.${id}.>`], max_age: 3600 * 1e9 });
    await jsm.consumers.add(stream, {
      durable_name: 'smoke',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
  });

  after(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  it('publishes with de-duplication and consumes through a durable consumer across reconnects', async () => {
    const js = jetstream(nc);
    for (let i = 0; i < 10; i++) {
      const ack = await js.publish(subject, JSON.stringify({ i }), { msgID: `m-${i}` });
      assert.equal(ack.duplicate, false);
    }
    const dup = await js.publish(subject, JSON.stringify({ i: 0 }), { msgID: 'm-0' });
    assert.equal(dup.duplicate, true, 'same Nats-Msg-Id within the window is de-duplicated');

    const consumer = await js.consumers.get(stream, 'smoke');
    const first = await consumer.fetch({ max_messages: 4, expires: 2000 });
    const seen: number[] = [];
    for await (const m of first) {
      seen.push((m.json() as { i: number }).i);
      m.ack();
    }
    assert.deepEqual(seen, [0, 1, 2, 3]);

    // A new connection resumes where the durable consumer left off.
    const nc2 = await connect({ servers: requireEnv('NATS_URL') });
    try {
      const c2 = await jetstream(nc2).consumers.get(stream, 'smoke');
      const rest = await c2.fetch({ max_messages: 10, expires: 2000 });
      for await (const m of rest) {
        seen.push((m.json() as { i: number }).i);
        await m.ackAck();
        if (seen.length === 10) break;
      }
    } finally {
      await nc2.close();
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const info = await (await jetstreamManager(nc)).consumers.info(stream, 'smoke');
    assert.equal(info.num_pending, 0);
    assert.equal(info.num_ack_pending, 0);
  });
});
