/**
 * The snapshot cache on a real NATS config store: a version is loaded once, the newest published
 * version of a served cluster is loaded before it is assigned, and a rollback to the previous
 * version is served without loading it again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@shoal/common';
import { startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { SnapshotCache } from './cache.js';
import type { Snapshot } from './core/snapshot.js';
import { UNASSIGNED_VERSION, type ConfigStore } from './store/config-store.js';
import { NatsConfigStore } from './store/nats-config-store.js';
import { benchResources, bundle } from './testing/fixtures.js';

const CLUSTER = 'west';

describe('SnapshotCache', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let store: ConfigStore;
  let cache: SnapshotCache;
  const loads: string[] = [];

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    const real = await NatsConfigStore.open(nc);
    // The real store, counting the versions it loads.
    store = Object.assign(Object.create(real) as NatsConfigStore, {
      loadVersion: (cluster: string, version: string) => {
        loads.push(version);
        return real.loadVersion(cluster, version);
      },
    });
    cache = new SnapshotCache({ store, logger: silentLogger() });
    await cache.start();
  });

  after(async () => {
    await cache?.close();
    await nc?.close();
    await nats?.dispose();
  });

  const publish = (k: number) =>
    store.publishVersion(
      CLUSTER,
      `g${k}`,
      ['n1', 'n2'].map((n) => bundle(CLUSTER, n, `g${k}`, benchResources(k))),
    );

  it('loads the next published version before its assignment, and keeps the previous one for a rollback', async () => {
    await publish(1);
    await store.assign(CLUSTER, 'g1', 'test');
    await cache.waitForVersion(CLUSTER, 'g1');
    const seen: string[] = [];
    const stop = cache.subscribe(CLUSTER, 'n1', (s: Snapshot) => seen.push(s.version));
    try {
      await publish(2);
      await waitFor(
        'g2 to be loaded ahead of its assignment',
        () => Promise.resolve(loads.includes('g2')),
        { timeoutMs: 5000, intervalMs: 20 },
      );
      assert.equal(cache.servedVersion(CLUSTER), 'g1', 'publishing does not serve');

      await store.assign(CLUSTER, 'g2', 'test');
      await cache.waitForVersion(CLUSTER, 'g2');
      await store.assign(CLUSTER, 'g1', 'rollback');
      await cache.waitForVersion(CLUSTER, 'g1');

      assert.deepEqual(seen, ['g2', 'g1'], 'n1 got each assigned version');
      assert.deepEqual(loads, ['g1', 'g2'], 'each version loaded once');
      assert.equal(cache.current(CLUSTER, 'n2')?.version, 'g1');
    } finally {
      stop();
    }
  });

  it('unassigning a cluster (rollback of its first version) serves its nodes an empty config; a new assignment serves again', async () => {
    const cluster = 'fresh';
    await store.publishVersion(cluster, 'f1', [bundle(cluster, 'n1', 'f1', benchResources(7))]);
    await store.assign(cluster, 'f1', 'rollout');
    await cache.waitForVersion(cluster, 'f1');
    const seen: Snapshot[] = [];
    const stop = cache.subscribe(cluster, 'n1', (s: Snapshot) => seen.push(s));
    try {
      await store.unassign(cluster);
      await waitFor('n1 to be sent the empty config', () => Promise.resolve(seen.length > 0), {
        timeoutMs: 5000,
        intervalMs: 20,
      });
      assert.equal(seen[0]!.version, UNASSIGNED_VERSION);
      assert.equal(seen[0]!.types.size, 0, 'no resources at all');
      assert.equal(cache.servedVersion(cluster), undefined);
      assert.equal(cache.current(cluster, 'n1'), undefined, 'a new stream waits');
      assert.equal(await store.getAssignment(cluster), undefined);
      await store.unassign(cluster); // idempotent

      await store.assign(cluster, 'f1', 'retry');
      await cache.waitForVersion(cluster, 'f1');
      assert.equal(seen.at(-1)!.version, 'f1');
      assert.ok(seen.at(-1)!.types.size > 0);
    } finally {
      stop();
    }
  });
});
