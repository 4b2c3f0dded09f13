/**
 * Interop with Go's xDS client (google.golang.org/grpc/xds, in test/interop/xds/client): it
 * resolves xds:///echo through Shoal over mutual TLS (bootstrap channel_creds "tls" with
 * certificate files; its node identity is the certificate's SPIFFE id) and calls the backends;
 * a new version shifts the weighted split. grpc-go speaks SotW only (no Delta client).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Subjects } from '@shoal/common';
import { startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { assignVersion, publishConfigVersion, type NodeEvent } from '@shoal/xds';
import { createTestCa, type TestCa } from '../../../services/xds/src/testing/certs.js';
import { bundle, weightedService } from '../../../services/xds/src/testing/fixtures.js';
import {
  TEST_TRUST_DOMAIN,
  startReplica,
  type Replica,
} from '../../../services/xds/src/testing/harness.js';
import { startBackend, tally, type Backend } from './backends.js';

const run = promisify(execFile);
const CLUSTER = 'gointerop';
const NODE = 'go1';

describe('Go xDS client (google.golang.org/grpc/xds) over mutual TLS', () => {
  let nats: TestNatsServer;
  let ca: TestCa;
  let xds: Replica;
  let backends: Backend[] = [];
  let binDir = '';
  let bootstrap = '';
  let nc: NatsConnection;
  const events: NodeEvent[] = [];

  const publish = async (version: string, weights: [number, number]) => {
    const res = weightedService({
      listener: 'echo',
      backends: [
        { cluster: 'echo-a', port: backends[0]!.port, weight: weights[0] },
        { cluster: 'echo-b', port: backends[1]!.port, weight: weights[1] },
      ],
    });
    await publishConfigVersion(xds.server.store, CLUSTER, version, [
      bundle(CLUSTER, NODE, version, res),
    ]);
    await assignVersion(xds.server.store, CLUSTER, version, 'test');
    await xds.server.cache.waitForVersion(CLUSTER, version);
  };

  const callThroughGo = async (calls: number) => {
    const { stdout } = await run(
      join(binDir, 'client'),
      ['-target', 'xds:///echo', '-calls', String(calls)],
      {
        env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap },
        timeout: 60_000,
      },
    );
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { backend?: string; error?: string });
    assert.deepEqual(
      lines.filter((l) => l.error),
      [],
    );
    return tally(lines.map((l) => l.backend ?? ''));
  };

  before(async () => {
    const build = run(join(import.meta.dirname, 'build.sh'), [], { timeout: 600_000 });
    nats = await startNatsServer();
    ca = await createTestCa();
    xds = await startReplica(nats.url, ca, { replica: 'go-interop' });
    backends = await Promise.all([startBackend('a'), startBackend('b')]);
    nc = await connect({ servers: nats.url });
    nc.subscribe(Subjects.event(CLUSTER, 'Node'), {
      callback: (_e, m) => {
        events.push(m.json<NodeEvent>());
      },
    });
    const files = ca.writeFiles(
      await ca.issue([`spiffe://${TEST_TRUST_DOMAIN}/shoal/node/${CLUSTER}/${NODE}`]),
    );
    bootstrap = join(files.dir, 'bootstrap.json');
    writeFileSync(
      bootstrap,
      JSON.stringify({
        xds_servers: [
          {
            server_uri: xds.address,
            channel_creds: [
              {
                type: 'tls',
                config: {
                  ca_certificate_file: files.ca,
                  certificate_file: files.cert,
                  private_key_file: files.key,
                },
              },
            ],
            server_features: ['xds_v3'],
          },
        ],
        node: { id: NODE, cluster: CLUSTER },
      }),
    );
    binDir = (await build).stdout.trim();
    await publish('g1', [9, 1]);
  });

  after(async () => {
    await nc?.close();
    await xds?.close();
    await Promise.all(backends.map((b) => b.close()));
    await nats?.dispose();
  });

  it('resolves and calls the backends through Shoal, and follows a new version', async () => {
    const first = await callThroughGo(40);
    assert.ok((first.a ?? 0) >= 28, `9:1 for a, got ${JSON.stringify(first)}`);
    await publish('g2', [1, 9]);
    const second = await callThroughGo(40);
    assert.ok((second.b ?? 0) >= 28, `1:9 for b, got ${JSON.stringify(second)}`);
    await nc.flush();
    const acked = events
      .filter((e) => e.type === 'NodeConfigAcked')
      .map((e) => [e.metadata.actor, e.data.version]);
    const id = `spiffe://${TEST_TRUST_DOMAIN}/shoal/node/${CLUSTER}/${NODE}`;
    assert.deepEqual(
      acked,
      [
        [id, 'g1'],
        [id, 'g2'],
      ],
      'the Go node ACKed both versions, known by its certificate',
    );
  });
});
