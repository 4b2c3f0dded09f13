import assert from 'node:assert/strict';
import type net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { freePort, waitFor } from '@shoal/common';
import { TypeUrls, encodeMessage } from '@shoal/proto';
import type { FakeAdsServer } from './testing/fake-ads-server.js';
import {
  allowPrincipals,
  echoServer,
  exchange,
  getJson,
  openConn,
  roundTrip,
  serviceResource,
  spawnNode,
  startControl,
  workloadResource,
  type NodeProcess,
  type TestControl,
  type WorkloadSpec,
} from './testing/fixtures.js';
import { outboundAddress } from './ztunnel/addresses.js';

// Loopback plan of this test file (unique so test files can run concurrently):
// nodes 127.0.11.{1,2}; workloads 127.0.21.x; outbound listeners 127.111.*, 127.112.*.
const TD = 'e2e.local';
const C = 'c1';
const HOST = 'echo.shop.svc.cluster.local';
const SVC = `shop/${HOST}`;
const client: WorkloadSpec = {
  name: 'client',
  namespace: 'shop',
  serviceAccount: 'client',
  ip: '127.0.21.1',
  node: 'a',
  cluster: C,
  trustDomain: TD,
};
const other: WorkloadSpec = { ...client, name: 'other', serviceAccount: 'other', ip: '127.0.21.3' };
const echo: WorkloadSpec = {
  name: 'echo',
  namespace: 'shop',
  serviceAccount: 'echo',
  ip: '127.0.21.2',
  node: 'b',
  cluster: C,
  trustDomain: TD,
  services: { [SVC]: [[80, 8080]] },
};

describe('HBONE between two node processes (e2e)', () => {
  let dir: string;
  let control: TestControl;
  let ads: FakeAdsServer;
  const caMetrics = new Registry();
  const servers: net.Server[] = [];
  let nodeA: NodeProcess;
  let nodeB: NodeProcess;
  const out = outboundAddress(111, SVC);

  const l4 = (echoSpec: WorkloadSpec, version: string) => {
    ads.set(
      TypeUrls.authorization,
      [allowPrincipals('shop', 'only-client', [`${TD}/ns/shop/sa/client`])],
      version,
    );
    ads.set(
      TypeUrls.address,
      [
        workloadResource(client),
        workloadResource(other),
        workloadResource(echoSpec),
        serviceResource({
          namespace: 'shop',
          hostname: HOST,
          vip: '127.0.31.1',
          ports: [[80, 8080]],
        }),
      ],
      version,
    );
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-node-e2e-'));
    control = await startControl({
      dir,
      trustDomain: TD,
      cluster: C,
      nodes: { a: [client, other], b: [echo] },
      // 6 s certificates: the nodes renew several times during the run (rotation under load).
      certTtlMs: 6000,
      metrics: caMetrics,
    });
    ads = control.ads;
    l4(echo, 'v1');
    servers.push(await echoServer(echo.ip, 8080, 'v1:'), await echoServer(echo.ip, 8081, 'v2:'));
    const common = control.nodeArgs;
    nodeA = spawnNode({
      ...common,
      node: 'a',
      'node-ip': '127.0.11.1',
      'admin-port': await freePort('127.0.11.1'),
      'outbound-octet': 111,
      'join-token': 'tok-a',
    });
    nodeB = spawnNode({
      ...common,
      node: 'b',
      'node-ip': '127.0.11.2',
      'admin-port': await freePort('127.0.11.2'),
      'outbound-octet': 112,
      'join-token': 'tok-b',
    });
    for (const n of [nodeA, nodeB]) {
      await waitFor(
        'node ready',
        async () => (await fetch(`${n.adminUrl}/ready`).catch(() => undefined))?.status === 200,
        { timeoutMs: 45_000 },
      );
    }
    await waitFor('tunnel up', async () => (await roundTrip(client.ip, out, 80, 'x')) === 'v1:x', {
      timeoutMs: 15_000,
    });
  });

  after(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await control?.close();
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('tunnels a local workload to a workload on another node with both identities checked', async () => {
    assert.equal(await roundTrip(client.ip, out, 80, 'hello'), 'v1:hello');
    // B's inbound authorizes by the SPIFFE id in A's client certificate: only sa/client may pass.
    // Node a may not hold sa/other's certificate yet (the tunnel then fails on a, before b can
    // deny it): every attempt must fail, and b must eventually count a denial.
    const denied =
      /shoal_dataplane_connections_total\{[^}]*direction="inbound"[^}]*result="denied"/;
    let metrics = '';
    await waitFor(
      'b denies sa/other',
      async () => {
        assert.equal(
          await roundTrip(other.ip, out, 80, 'hello'),
          '',
          'sa/other is denied at the destination',
        );
        metrics = await (await fetch(`${nodeB.adminUrl}/metrics`)).text();
        return denied.test(metrics);
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.match(
      metrics,
      /shoal_dataplane_connections_total\{[^}]*direction="inbound"[^}]*result="ok"/,
    );
    const dump = (await getJson(`${nodeB.adminUrl}/config_dump`)) as {
      ztunnel: { inbound: { ip: string; identity: string }[] };
    };
    assert.deepEqual(
      dump.ztunnel.inbound.map((l) => [l.ip, l.identity]),
      [[echo.ip, `spiffe://${TD}/ns/shop/sa/echo`]],
    );
  });

  it('multiplexes tunnels over one pooled HBONE session and survives certificate rotation', async () => {
    const conns = await Promise.all([1, 2, 3].map(() => openConn(client.ip, out, 80)));
    for (const [i, s] of conns.entries()) assert.equal(await exchange(s, `m${i}`), `v1:m${i}`);
    const dump = (await getJson(`${nodeA.adminUrl}/config_dump`)) as {
      ztunnel: { pooledSessions: string[] };
    };
    // Pooled per (source identity, destination identity, destination): one session for sa/client.
    assert.deepEqual(
      dump.ztunnel.pooledSessions.filter((k) => k.startsWith(`spiffe://${TD}/ns/shop/sa/client|`)),
      [`spiffe://${TD}/ns/shop/sa/client|spiffe://${TD}/ns/shop/sa/echo|${echo.ip}:15008`],
    );
    // Certificates live 6 s and are renewed at 50-80 % of that: the node and workload certificates
    // are all renewed within a few seconds (more under load); open tunnels keep working and new
    // connections use the new certificates.
    const issued = async () =>
      (await caMetrics.getSingleMetric('shoal_ca_certificates_total')!.get()).values
        .filter((v) => v.labels.result === 'ok')
        .reduce((a, v) => a + v.value, 0);
    const before = await issued();
    await waitFor(
      'node and workload certificates renewed',
      async () => (await issued()) - before >= 3,
      {
        timeoutMs: 20_000,
      },
    );
    for (const [i, s] of conns.entries())
      assert.equal(await exchange(s, `again${i}`), `v1:again${i}`);
    assert.equal(await roundTrip(client.ip, out, 80, 'fresh'), 'v1:fresh');
    for (const s of conns) s.destroy();
  });

  it('NACKs an invalid config with a reason and keeps serving the old one without failed requests', async () => {
    let failures = 0;
    let total = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        total++;
        if ((await roundTrip(client.ip, out, 80, 'p')) !== 'v1:p') failures++;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const ackA = ads.nextAck(TypeUrls.address);
    const bad = {
      name: 'c1/shop/broken',
      value: encodeMessage(TypeUrls.address, {
        workload: { uid: 'c1/shop/broken', identity: `spiffe://${TD}/ns/shop/sa/x` },
      }),
    };
    ads.set(
      TypeUrls.address,
      [
        workloadResource(client),
        workloadResource(other),
        workloadResource(echo),
        serviceResource({
          namespace: 'shop',
          hostname: HOST,
          vip: '127.0.31.1',
          ports: [[80, 8080]],
        }),
        bad,
      ],
      'v-bad',
    );
    const ack = await ackA;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await load;
    assert.match(ack.error ?? '', /c1\/shop\/broken.*workload has no addresses/);
    assert.ok(total > 5, `made ${total} requests`);
    assert.equal(failures, 0);
    const dump = (await getJson(`${nodeA.adminUrl}/config_dump`)) as {
      xds: { nacks: { message: string }[] };
    };
    assert.match(dump.xds.nacks.at(-1)!.message, /workload has no addresses/);
  });

  it('drains long-lived connections on a config change while new ones use the new config', async () => {
    const long = await openConn(client.ip, out, 80);
    assert.equal(await exchange(long, 'a'), 'v1:a');
    const ack = ads.nextAck(TypeUrls.address);
    l4({ ...echo, services: { [SVC]: [[80, 8081]] } }, 'v2');
    assert.equal((await ack).error, undefined);
    assert.equal(await exchange(long, 'b'), 'v1:b', 'the open tunnel keeps its upstream');
    assert.equal(await roundTrip(client.ip, out, 80, 'c'), 'v2:c', 'a new connection follows v2');
    long.destroy();
  });

  it('keeps serving on the last good config while the control plane is down, and resyncs when it returns', async () => {
    const long = await openConn(client.ip, out, 80);
    ads.kill();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await exchange(long, 'still'), 'v2:still');
    assert.equal(await roundTrip(client.ip, out, 80, 'new'), 'v2:new');
    const dumpDown = (await getJson(`${nodeA.adminUrl}/config_dump`)) as {
      xds: { connected: boolean };
    };
    assert.equal(dumpDown.xds.connected, false);
    // The control plane comes back on the same address with a newer config.
    l4(echo, 'v3');
    const ack = ads.nextAck(TypeUrls.address, 15_000);
    await ads.start();
    assert.equal((await ack).error, undefined);
    const resub = ads.requests
      .filter((r) => r.typeUrl === TypeUrls.address && !r.responseNonce)
      .at(-1);
    assert.ok(
      Object.keys(resub?.initialResourceVersions ?? {}).length >= 4,
      'resubscribed with what it had',
    );
    let lastSeen = '';
    await waitFor(
      'v3 applied',
      async () =>
        (lastSeen = await roundTrip(client.ip, out, 80, 'z').catch((e: Error) => e.message)) ===
        'v1:z',
      { timeoutMs: 20_000 },
    ).catch(async (err: Error) => {
      const d = (await getJson(`${nodeA.adminUrl}/config_dump`)) as {
        xds: unknown;
        ztunnel: unknown;
      };
      throw new Error(
        `${err.message}; last answer ${lastSeen}; node a: ${JSON.stringify(d.xds).slice(0, 600)} ${JSON.stringify(d.ztunnel).slice(0, 400)}`,
      );
    });
    assert.equal(await exchange(long, 'same'), 'v2:same');
    long.destroy();
  });
});
