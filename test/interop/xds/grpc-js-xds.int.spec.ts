/**
 * Interop with a real proxyless client, @grpc/grpc-js-xds (no one here wrote it): it resolves
 * xds:///echo through Shoal's plaintext listener (LDS API listener → RDS → CDS → EDS) and calls
 * two backends; a new assigned version shifts the weighted split; an invalid cluster is NACKed
 * and Shoal records the NACK with the client's message. grpc-js-xds registers itself and reads
 * its bootstrap once per process, so everything with it lives in this one file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Subjects, waitFor } from '@shoal/common';
import { PROXYLESS_NODE } from '@shoal/proto';
import { startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { assignVersion, publishConfigVersion, queryConvergence, type NodeEvent } from '@shoal/xds';
import { createTestCa } from '../../../services/xds/src/testing/certs.js';
import { bundle, weightedService } from '../../../services/xds/src/testing/fixtures.js';
import { startReplica, type Replica } from '../../../services/xds/src/testing/harness.js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startBackend, tally, whoAnswers, type Backend } from './backends.js';

const CLUSTER = 'interop';

describe('@grpc/grpc-js-xds proxyless client through Shoal', () => {
  let nats: TestNatsServer;
  let xds: Replica;
  let nc: NatsConnection;
  let backends: Backend[] = [];
  let client: grpc.Client | undefined;
  const events: NodeEvent[] = [];

  const publish = async (version: string, weights: [number, number], lbPolicy?: string) => {
    const [a, b] = backends;
    const res = weightedService({
      listener: 'echo',
      backends: [
        { cluster: 'echo-a', port: a!.port, weight: weights[0], lbPolicy },
        { cluster: 'echo-b', port: b!.port, weight: weights[1] },
      ],
    });
    await publishConfigVersion(xds.server.store, CLUSTER, version, [
      bundle(CLUSTER, PROXYLESS_NODE, version, res),
    ]);
    await assignVersion(xds.server.store, CLUSTER, version, 'test');
    await xds.server.cache.waitForVersion(CLUSTER, version);
  };

  const split = async (n: number) => {
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(await whoAnswers(client!));
    return tally(names);
  };

  before(async () => {
    nats = await startNatsServer();
    const ca = await createTestCa();
    xds = await startReplica(nats.url, ca, { replica: 'interop', plaintext: true });
    nc = await connect({ servers: nats.url });
    nc.subscribe(Subjects.event(CLUSTER, 'Node'), {
      callback: (_e, m) => {
        events.push(m.json<NodeEvent>());
      },
    });
    backends = await Promise.all([startBackend('a'), startBackend('b')]);
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [
        {
          server_uri: xds.plaintextAddress,
          channel_creds: [{ type: 'insecure' }],
          server_features: ['xds_v3'],
        },
      ],
      node: { id: 'grpc-js-client', cluster: CLUSTER, locality: {} },
    });
    const xdsLib = await import('@grpc/grpc-js-xds');
    xdsLib.register();
    await publish('p1', [9, 1]);
  });

  after(async () => {
    client?.close();
    await nc?.close();
    await xds?.close();
    await Promise.all(backends.map((b) => b.close()));
    await nats?.dispose();
  });

  it('resolves xds:///echo through LDS/RDS/CDS/EDS and splits calls by the route weights', async () => {
    client = new grpc.Client('xds:///echo', grpc.credentials.createInsecure());
    // 200 calls: with 40, b got none about once in 70 runs (0.9^40); now 0.9^200, and a's
    // floor of 150 is 7 standard deviations under its expected 180.
    const t = await split(200);
    assert.ok((t.a ?? 0) >= 150, `9:1 for a, got ${JSON.stringify(t)}`);
    assert.ok((t.b ?? 0) >= 1, `b gets some calls too, got ${JSON.stringify(t)}`);
  });

  it('shifts the split when a new version with other weights is assigned', async () => {
    await publish('p2', [1, 9]);
    await waitFor(
      'the client to ACK p2',
      async () => (await queryConvergence(nc, CLUSTER, 'p2')).converged,
      {
        timeoutMs: 10_000,
      },
    );
    const t = await split(200);
    assert.ok((t.b ?? 0) >= 150, `1:9 for b, got ${JSON.stringify(t)}`);
    assert.ok((t.a ?? 0) >= 1, `a keeps some calls, got ${JSON.stringify(t)}`);
  });

  it("records the client's NACK of an invalid cluster with its message and calls keep working", async () => {
    await publish('p3', [5, 5], 'MAGLEV');
    await waitFor(
      'a NACK from the client',
      async () => (await queryConvergence(nc, CLUSTER, 'p3')).nodes.some((n) => n.nack),
      { timeoutMs: 10_000 },
    );
    const c = await queryConvergence(nc, CLUSTER, 'p3');
    assert.equal(c.converged, false);
    const node = c.nodes[0]!;
    assert.equal(node.node, 'proxyless:grpc-js-client');
    assert.equal(node.nack?.version, 'p3');
    assert.match(node.nack?.message ?? '', /lb_policy/i);
    await waitFor('NodeConfigRejected on NATS', () =>
      Promise.resolve(
        events.some((e) => e.type === 'NodeConfigRejected' && e.data.version === 'p3'),
      ),
    );
    // Only the cluster was refused (the client keeps its p2 clusters); calls keep working.
    const t = await split(20);
    assert.equal((t.a ?? 0) + (t.b ?? 0), 20, JSON.stringify(t));
  });
});
