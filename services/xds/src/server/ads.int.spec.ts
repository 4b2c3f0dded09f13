/**
 * The ADS server over mutual TLS with a test ADS client (SotW and Delta), two replicas sharing
 * one NATS (a nats-server of this test's own), node identity enforcement, NACK visibility.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Subjects } from '@shoal/common';
import { TypeUrls, type XdsResource } from '@shoal/proto';
import { startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { queryConvergence } from '../convergence-nats.js';
import type { NodeEvent } from '../events.js';
import { assignVersion, publishConfigVersion } from '../store/nats-config-store.js';
import {
  AdsTestStream,
  mtlsCredentials,
  type DeltaResponseMsg,
  type SotwResponseMsg,
} from '../testing/ads-client.js';
import { createTestCa, type TestCa } from '../testing/certs.js';
import { bundle, weightedService } from '../testing/fixtures.js';
import { TEST_TRUST_DOMAIN, startReplica, type Replica } from '../testing/harness.js';
import { batchingStats } from './batching.js';

const T = TypeUrls;
const CLUSTER = 'east';

/** Each node gets its own listener name, so "only its own config" is observable. */
function nodeResources(node: string, weightA: number, extraCluster?: string): XdsResource[] {
  return weightedService({
    listener: `listener-${node}`,
    route: `route-${node}`,
    backends: [
      { cluster: 'c-a', port: 9001, weight: weightA },
      { cluster: 'c-b', port: 9002, weight: 10 - weightA },
      ...(extraCluster ? [{ cluster: extraCluster, port: 9003, weight: 1 }] : []),
    ],
  });
}

async function publish(r: Replica, version: string, weightA: number, extra?: string) {
  const bundles = ['n1', 'n2'].map((n) =>
    bundle(CLUSTER, n, version, nodeResources(n, weightA, extra)),
  );
  await publishConfigVersion(r.server.store, CLUSTER, version, bundles);
  await assignVersion(r.server.store, CLUSTER, version, 'test');
}

describe('ADS server over mutual TLS', () => {
  let nats: TestNatsServer;
  let ca: TestCa;
  let a: Replica;
  let b: Replica;
  let nc: NatsConnection;
  const events: NodeEvent[] = [];
  const msgIds: string[] = [];
  const pemFor = async (uri: string, issuer = ca) => ({
    ca: ca.cert,
    ...(await issuer.issue([uri])),
  });
  const nodeUri = (n: string) => `spiffe://${TEST_TRUST_DOMAIN}/shoal/node/${CLUSTER}/${n}`;

  before(async () => {
    nats = await startNatsServer();
    ca = await createTestCa();
    [a, b] = await Promise.all([
      startReplica(nats.url, ca, { replica: 'a' }),
      startReplica(nats.url, ca, { replica: 'b' }),
    ]);
    nc = await connect({ servers: nats.url });
    nc.subscribe(Subjects.event(CLUSTER, 'Node'), {
      callback: (_e, m) => {
        events.push(m.json<NodeEvent>());
        msgIds.push(m.headers?.get('Nats-Msg-Id') ?? '');
      },
    });
    await publish(a, 'v1', 5);
    await Promise.all([a, b].map((r) => r.server.cache.waitForVersion(CLUSTER, 'v1')));
  });

  after(async () => {
    await nc?.close();
    await Promise.all([a?.close(), b?.close()]);
    await nats?.dispose();
  });

  it('SotW: serves the node its own config in order, with unique nonces, and pushes a new assignment make-before-break', async () => {
    const s = AdsTestStream.open<SotwResponseMsg>(
      'sotw',
      a.address,
      mtlsCredentials(await pemFor(nodeUri('n1'))),
    );
    try {
      const node = { id: 'n1', cluster: CLUSTER };
      const nonces: string[] = [];
      const sub = async (type_url: string, resource_names: string[]) => {
        s.send({ node, type_url, resource_names });
        const r = await s.next();
        nonces.push(r.nonce);
        s.send({ type_url, resource_names, version_info: r.version_info, response_nonce: r.nonce });
        return r;
      };
      const cds = await sub(T.cluster, []);
      assert.equal(cds.version_info, 'v1');
      assert.equal(cds.resources.length, 2);
      await sub(T.endpoint, ['c-a', 'c-b']);
      const lds = await sub(T.listener, []);
      assert.equal(lds.resources.length, 1, 'only its own listener');
      await sub(T.route, ['route-n1']);
      assert.deepEqual(await s.drain(200), [], 'nothing more after the ACKs');

      const corked = batchingStats.corked;
      await publish(b, 'v2', 2, 'c-new');
      const pushed: SotwResponseMsg[] = [];
      for (let i = 0; i < 2; i++) pushed.push(await s.next());
      assert.deepEqual(
        pushed.map((r) => r.type_url),
        [T.cluster, T.route],
        'the new cluster before the route that uses it (endpoints and listener did not change)',
      );
      assert.ok(batchingStats.corked > corked, 'the push went out as one batch');
      assert.equal(
        batchingStats.uncorked,
        0,
        'in one HTTP/2 write (grpc-js internals as expected)',
      );
      assert.deepEqual(await s.drain(200), []);
      for (const r of pushed) {
        nonces.push(r.nonce);
        const names =
          r.type_url === T.endpoint ? ['c-a', 'c-b'] : r.type_url === T.route ? ['route-n1'] : [];
        s.send({
          type_url: r.type_url,
          resource_names: names,
          version_info: r.version_info,
          response_nonce: r.nonce,
        });
      }
      assert.equal(new Set(nonces).size, nonces.length, 'a nonce per response');
      let c = await queryConvergence(nc, CLUSTER, 'v2');
      for (
        let i = 0;
        i < 20 && !c.nodes.some((n) => n.node === 'n1' && n.ackedVersion === 'v2');
        i++
      ) {
        await new Promise((r) => setTimeout(r, 50));
        c = await queryConvergence(nc, CLUSTER, 'v2');
      }
      assert.deepEqual(
        c.nodes.map((n) => [n.node, n.ackedVersion, n.replica]),
        [['n1', 'v2', 'a']],
      );
      assert.ok(
        events.some(
          (e) =>
            e.type === 'NodeConfigAcked' &&
            e.data.version === 'v2' &&
            e.stream === `node/${CLUSTER}/n1`,
        ),
      );
      assert.ok(events.every((e) => e.metadata.actor === nodeUri('n1') && e.schemaVersion === 1));
    } finally {
      s.close();
    }
  });

  it('Delta: reconnecting with initial_resource_versions resends nothing unchanged', async () => {
    const creds = mtlsCredentials(await pemFor(nodeUri('n2')));
    const first = AdsTestStream.open<DeltaResponseMsg>('delta', b.address, creds);
    const have: Record<string, string> = {};
    try {
      first.send({ node: { id: 'n2' }, type_url: T.cluster });
      const r = await first.next();
      assert.deepEqual(r.resources.map((x) => x.name).sort(), ['c-a', 'c-b', 'c-new']);
      for (const x of r.resources) have[x.name] = x.version;
      first.send({ type_url: T.cluster, response_nonce: r.nonce });
    } finally {
      first.close();
    }
    const again = AdsTestStream.open<DeltaResponseMsg>('delta', a.address, creds);
    try {
      again.send({ node: { id: 'n2' }, type_url: T.cluster, initial_resource_versions: have });
      assert.deepEqual(await again.drain(300), [], 'nothing to resend');
      again.send({ type_url: T.route, resource_names_subscribe: ['route-n2', 'route-n1'] });
      const r = await again.next();
      assert.deepEqual(
        r.resources.map((x) => x.name),
        ['route-n2'],
        "never another node's route",
      );
    } finally {
      again.close();
    }
  });

  it('refuses streams whose certificate is not a node of this trust domain, or that claim another node', async () => {
    const expectRefused = async (
      pem: { ca: string; cert: string; key: string },
      nodeId: string | undefined,
      code: grpc.status,
      text: RegExp,
    ) => {
      const s = AdsTestStream.open<SotwResponseMsg>('sotw', a.address, mtlsCredentials(pem));
      s.send({ node: nodeId ? { id: nodeId } : undefined, type_url: T.cluster });
      const st = await s.status;
      s.close();
      assert.equal(st.code, code, `${st.details}`);
      assert.match(st.details, text);
    };
    await expectRefused(
      await pemFor(`spiffe://${TEST_TRUST_DOMAIN}/ns/default/sa/web`),
      undefined,
      grpc.status.UNAUTHENTICATED,
      /no Shoal node identity/,
    );
    await expectRefused(
      await pemFor(`spiffe://other.domain/shoal/node/${CLUSTER}/n1`),
      undefined,
      grpc.status.UNAUTHENTICATED,
      /trust domain "other.domain"/,
    );
    await expectRefused(
      await pemFor(nodeUri('n1')),
      'n2',
      grpc.status.PERMISSION_DENIED,
      /does not match the client certificate/,
    );
    const stranger = await createTestCa('stranger');
    await expectRefused(
      { ...(await stranger.issue([nodeUri('n1')])), ca: ca.cert },
      undefined,
      grpc.status.UNAVAILABLE,
      /./,
    );
    // Plaintext to the mTLS port is refused at the handshake.
    const plain = AdsTestStream.open<SotwResponseMsg>(
      'sotw',
      a.address,
      grpc.credentials.createInsecure(),
    );
    plain.send({ type_url: T.cluster });
    const st = await plain.status;
    plain.close();
    assert.notEqual(st.code, grpc.status.OK);
  });

  it('records a NACK with its message, shows it in the convergence answer and publishes NodeConfigRejected', async () => {
    const s = AdsTestStream.open<SotwResponseMsg>(
      'sotw',
      b.address,
      mtlsCredentials(await pemFor(nodeUri('n1'))),
    );
    try {
      s.send({ node: { id: `${CLUSTER}/n1` }, type_url: T.cluster });
      const r1 = await s.next();
      s.send({ type_url: T.cluster, version_info: r1.version_info, response_nonce: r1.nonce });
      await publish(a, 'v3', 7, 'c-bad');
      // c-new goes away: first a CDS with both (make-before-break), then one without c-new.
      const [keep, r2] = [await s.next(), await s.next()];
      assert.deepEqual(keep.resources.length, 4);
      assert.equal(r2!.resources.length, 3);
      assert.equal(r2!.version_info, 'v3');
      s.send({
        type_url: T.cluster,
        version_info: r1.version_info,
        response_nonce: r2!.nonce,
        error_detail: { code: 3, message: 'cluster c-bad: unsupported lb_policy' },
      });
      let c = await queryConvergence(nc, CLUSTER, 'v3');
      for (let i = 0; i < 20 && !c.nodes.some((n) => n.nack); i++) {
        await new Promise((r) => setTimeout(r, 50));
        c = await queryConvergence(nc, CLUSTER, 'v3');
      }
      assert.equal(c.converged, false);
      const n1 = c.nodes.find((n) => n.node === 'n1');
      assert.deepEqual(n1?.nack, {
        typeUrl: T.cluster,
        version: 'v3',
        message: 'cluster c-bad: unsupported lb_policy',
      });
      assert.equal(n1?.ackedVersion, 'v2', 'keeps running the previous version');
      const ev = events.find((e) => e.type === 'NodeConfigRejected');
      assert.equal(ev?.data.message, 'cluster c-bad: unsupported lb_policy');
      assert.equal(ev?.data.version, 'v3');
      assert.ok(msgIds.includes(ev.id), 'Nats-Msg-Id is the event id');
    } finally {
      s.close();
    }
  });

  it('does not serve an inconsistent snapshot and reports it; both replicas serve the same version', async () => {
    const broken = weightedService({
      listener: 'listener-n1',
      route: 'route-n1',
      backends: [{ cluster: 'c-a', port: 9001, weight: 1 }],
    }).filter((r) => r.typeUrl !== T.cluster);
    await publishConfigVersion(a.server.store, CLUSTER, 'v4', [
      bundle(CLUSTER, 'n1', 'v4', broken),
    ]);
    await assignVersion(a.server.store, CLUSTER, 'v4');
    await Promise.all([a, b].map((r) => r.server.cache.waitForVersion(CLUSTER, 'v4')));
    for (const r of [a, b]) {
      const problems = r.server.cache.problems(CLUSTER);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!.message, /names cluster "c-a", which is missing/);
      assert.equal(
        r.server.cache.current(CLUSTER, 'n1')?.version,
        'v3',
        'keeps serving the last consistent one',
      );
    }
  });

  it('Delta: unassigning a cluster (rollback of its first rollout) removes what its nodes were sent', async () => {
    const cluster = 'first';
    await publishConfigVersion(a.server.store, cluster, 'f1', [
      bundle(cluster, 'n1', 'f1', nodeResources('n1', 5)),
    ]);
    await assignVersion(a.server.store, cluster, 'f1', 'rollout');
    await a.server.cache.waitForVersion(cluster, 'f1');
    const creds = mtlsCredentials(
      await pemFor(`spiffe://${TEST_TRUST_DOMAIN}/shoal/node/${cluster}/n1`),
    );
    const s = AdsTestStream.open<DeltaResponseMsg>('delta', a.address, creds);
    try {
      s.send({ node: { id: 'n1' }, type_url: T.cluster });
      const r = await s.next();
      assert.deepEqual(r.resources.map((x) => x.name).sort(), ['c-a', 'c-b']);
      s.send({ type_url: T.cluster, response_nonce: r.nonce });
      await a.server.store.unassign(cluster);
      const gone = await s.next();
      assert.deepEqual(gone.resources, []);
      assert.deepEqual([...gone.removed_resources].sort(), ['c-a', 'c-b']);
      assert.equal(a.server.cache.servedVersion(cluster), undefined);
    } finally {
      s.close();
    }
  });
});
