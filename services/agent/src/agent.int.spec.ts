import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { silentLogger, waitFor } from '@shoal/common';
import { startNatsServer, type TestNatsServer } from '@shoal/testkit';
import type { Agent } from './agent.js';
import { loadAgentConfig } from './config.js';
import { createAgent } from './create.js';
import { DEFAULT_KUBE_KINDS, type KubeKind } from './sources/kube-kinds.js';
import { FakeKubeApi } from './testing/fake-kube-api.js';
import { startStore, tempDir, type TestStore } from './testing/helpers.js';

const kind = (k: string): KubeKind => DEFAULT_KUBE_KINDS.find((x) => x.kind === k)!;
const [Namespace, Service, HTTPRoute] = [kind('Namespace'), kind('Service'), kind('HTTPRoute')];
const svc = (name: string, port: number) => ({
  metadata: { name, namespace: 'shop' },
  spec: { ports: [{ port }] },
});

describe('agent with a kube source against a FAKE Kubernetes API server, real NATS, ingest and PostgreSQL', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  // The real ingest appends to a fresh database: assertions are on what the store holds.
  let store: TestStore;
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    store = await startStore(nats.url);
  });
  after(async () => {
    await store?.close();
    await nc?.close();
    await nats?.dispose();
  });

  const makeAgent = (cluster: string, fake: FakeKubeApi, bufferDir: string): Agent =>
    createAgent(
      loadAgentConfig({
        argv: [
          '--cluster',
          cluster,
          '--source',
          'kube',
          '--nats-url',
          nats.url,
          '--buffer-dir',
          bufferDir,
          '--heartbeat-interval',
          '1h',
        ],
        env: {},
      }),
      {
        logger: silentLogger(),
        kubeConfig: fake.kubeConfig(),
        kubeKinds: [Namespace, Service, HTTPRoute],
        ackTimeoutMs: 2000,
      },
    );
  const eventsOf = async (cluster: string) =>
    (await store.read()).filter((e) => e.envelope.metadata.cluster === cluster);
  const describeEv = (e: { envelope: { type: string; data: Record<string, unknown> } }) =>
    `${e.envelope.type === 'ResourceDeleted' ? '-' : '+'}${String(e.envelope.data.kind)}/${String(e.envelope.data.name)}`;

  it('lists, watches, resumes from bookmarks, re-lists on 410 Gone, and resyncs only differences after a restart', async () => {
    const fake = new FakeKubeApi([Namespace, Service, HTTPRoute], 100);
    await fake.start();
    const dir = tempDir('shoal-agent-kube-');
    try {
      fake.apply(Namespace, { metadata: { name: 'shop' } });
      fake.apply(Service, svc('a', 80));
      fake.apply(Service, svc('b', 81));
      fake.apply(HTTPRoute, {
        metadata: { name: 'r', namespace: 'shop' },
        spec: { hostnames: ['x'] },
      });
      let agent = makeAgent('east', fake, dir.path);
      await agent.start();
      await waitFor('initial listing published', async () => (await eventsOf('east')).length === 5);
      let evs = await eventsOf('east');
      assert.equal(evs[0]!.envelope.type, 'ClusterRegistered');
      assert.deepEqual(evs.slice(1).map(describeEv).sort(), [
        '+HTTPRoute/r',
        '+Namespace/shop',
        '+Service/a',
        '+Service/b',
      ]);
      const ns = evs.find((e) => e.envelope.data.kind === 'Namespace')!;
      // Stored by ingest, which accepts an event only from its own cluster's subject.
      assert.equal(ns.envelope.metadata.cluster, 'east');
      assert.equal(ns.envelope.stream, 'resource/east/Namespace/_/shop');
      assert.equal(ns.msgId, ns.envelope.id);

      // Watch: a change, a no-op (same content, new resourceVersion), a deletion.
      fake.apply(Service, svc('a', 8080));
      fake.apply(Service, svc('a', 8080));
      fake.remove(Service, 'shop', 'b');
      await waitFor('watch events published', async () => (await eventsOf('east')).length === 7);
      evs = await eventsOf('east');
      assert.deepEqual(evs.slice(5).map(describeEv), ['+Service/a', '-Service/b']);
      assert.equal(
        (evs[5]!.envelope.data.spec as { spec: { ports: { port: number }[] } }).spec.ports[0]!.port,
        8080,
      );

      // Bookmarks: the Service watch resumes from the bookmark's (newer) version after a close.
      const rvAfterRoute = fake.apply(HTTPRoute, {
        metadata: { name: 'r2', namespace: 'shop' },
        spec: {},
      });
      await new Promise((r) => setTimeout(r, 350));
      fake.closeWatches();
      await waitFor(
        're-watch',
        async () => fake.requests.filter((r) => r.startsWith('watch /api/v1/services')).length >= 2,
      );
      const rewatch = fake.requests.filter((r) => r.startsWith('watch /api/v1/services')).at(-1)!;
      assert.ok(
        Number(/rv=(\d+)/.exec(rewatch)![1]) >= rvAfterRoute,
        `resumed from bookmark: ${rewatch}`,
      );
      const listsBefore = fake.requests.filter((r) => r === 'list /api/v1/services').length;

      // 410 Gone: changes the watch never delivered are found by the re-list (a deletion included).
      fake.deliver = false;
      fake.apply(Service, svc('c', 82));
      fake.remove(Service, 'shop', 'a');
      fake.deliver = true;
      fake.expireWatches();
      await waitFor('re-list after 410', async () => (await eventsOf('east')).length === 10);
      evs = await eventsOf('east');
      assert.deepEqual(evs.slice(7).map(describeEv).sort(), [
        '+HTTPRoute/r2',
        '+Service/c',
        '-Service/a',
      ]);
      assert.ok(fake.requests.filter((r) => r === 'list /api/v1/services').length > listsBefore);
      await agent.close();

      // Down: c changes, r is deleted, shop unchanged. Restart: only those two are published.
      fake.apply(Service, svc('c', 9000));
      fake.remove(HTTPRoute, 'shop', 'r');
      fake.compact();
      agent = makeAgent('east', fake, dir.path);
      await agent.start();
      await waitFor('resync published', async () => (await eventsOf('east')).length === 13);
      await new Promise((r) => setTimeout(r, 300));
      evs = await eventsOf('east');
      assert.equal(evs.length, 13, 'nothing but the differences is published on resync');
      assert.equal(evs[10]!.envelope.type, 'ClusterRegistered');
      assert.deepEqual(evs.slice(11).map(describeEv), ['+Service/c', '-HTTPRoute/r']);
      await agent.close();
    } finally {
      await fake.stop();
      dir.remove();
    }
  });

  it('1,000 changes while NATS is down, agent restarted twice: each published exactly once, in order per resource', async () => {
    const fake = new FakeKubeApi([Service], 1000);
    await fake.start();
    const dir = tempDir('shoal-agent-offline-');
    const cluster = 'offline';
    let natsDown = false;
    try {
      for (let i = 0; i < 100; i++) fake.apply(Service, svc(`s${i}`, 0));
      let agent = makeAgent(cluster, fake, dir.path);
      await agent.start();
      await waitFor('initial sync', async () => (await eventsOf(cluster)).length === 101);
      natsDown = true;
      await nats.stop();
      await waitFor('agent sees NATS down', async () => !agent.stats().connected);
      let version = 0;
      const phase = async (changes: number) => {
        const before = agent.stats().buffered;
        for (let n = 0; n < changes; n++) {
          version++;
          fake.apply(Service, svc(`s${version % 100}`, version));
        }
        await waitFor(
          `${changes} changes buffered`,
          async () => agent.stats().buffered - before === changes,
        );
      };
      await phase(400);
      await agent.close();
      agent = makeAgent(cluster, fake, dir.path);
      await agent.start();
      await phase(300);
      await agent.close();
      agent = makeAgent(cluster, fake, dir.path);
      await agent.start();
      await phase(300);
      assert.equal(
        agent.stats().pending,
        1000 + 2,
        '1,000 changes and 2 registrations are buffered',
      );
      await nats.start();
      natsDown = false;
      await waitFor('buffer flushed', async () => agent.stats().pending === 0, {
        timeoutMs: 60_000,
      });
      await agent.close();
      const evs = await eventsOf(cluster);
      const upserts = evs.filter((e) => e.envelope.type === 'ResourceUpserted');
      assert.equal(upserts.length, 100 + 1000);
      assert.equal(
        new Set(evs.map((e) => e.envelope.id)).size,
        evs.length,
        'no event stored twice',
      );
      const ports = new Map<string, number[]>();
      for (const e of upserts) {
        const name = String(e.envelope.data.name);
        const port = (e.envelope.data.spec as { spec: { ports: { port: number }[] } }).spec
          .ports[0]!.port;
        ports.set(name, [...(ports.get(name) ?? []), port]);
      }
      for (let i = 0; i < 100; i++) {
        const want = [0, ...Array.from({ length: 10 }, (_, k) => (i === 0 ? 100 : i) + k * 100)];
        assert.deepEqual(ports.get(`s${i}`), want, `order of s${i}`);
      }
    } finally {
      await fake.stop();
      dir.remove();
      if (natsDown) await nats.start();
    }
  });
});
