import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '@shoal/common';
import { buildL4State, type L4State } from '../l4/model.js';
import { DataplaneStats } from '../stats.js';
import { allowPrincipals, workloadResource, type WorkloadSpec } from '../testing/fixtures.js';
import { sameNodeDialer } from './inbound.js';

// Loopback plan (unique to this file): workloads 127.0.46.x.
const TD = 'same.local';
const base = { namespace: 'ns', cluster: 'c', trustDomain: TD, node: 'n1' };
const PROXY = { identity: `spiffe://${TD}/ns/ns/sa/wp`, ip: '127.0.46.50' };
const local: WorkloadSpec = { ...base, name: 'srv', serviceAccount: 'srv', ip: '127.0.46.2' };
const remote: WorkloadSpec = { ...local, name: 'far', ip: '127.0.46.3', node: 'n2' };
const guarded: WorkloadSpec = {
  ...local,
  name: 'guarded',
  serviceAccount: 'guarded',
  ip: '127.0.46.4',
  waypointIp: '127.0.46.60',
};
const idOf = (w: WorkloadSpec) => `spiffe://${TD}/ns/${w.namespace}/sa/${w.serviceAccount}`;

function l4(auth: ReturnType<typeof allowPrincipals>[] = []): L4State {
  const addrs = [local, remote, guarded].map(workloadResource);
  return buildL4State(
    new Map(addrs.map((a) => [a.name, a.value])),
    new Map(auth.map((a) => [a.name, a.value])),
  );
}

describe('same-node path of a node proxy (real sockets; the L4 state a node builds from xDS)', () => {
  const servers: net.Server[] = [];
  let port = 0;
  let state = l4();
  const registry = new Registry();
  const stats = new DataplaneStats(registry);
  const dial = sameNodeDialer({
    self: { cluster: 'c', node: 'n1' },
    l4: () => state,
    ...PROXY,
    stats,
    logger: silentLogger(),
  });
  const count = async (result: string) => {
    const m = await registry.getSingleMetric('shoal_dataplane_connections_total')!.get();
    return m.values
      .filter((v) => v.labels.direction === 'inbound' && v.labels.result === result)
      .reduce((a, v) => a + v.value, 0);
  };

  before(async () => {
    // One echo server per workload address, on the same port.
    for (const ip of [local.ip, guarded.ip]) {
      const s = net.createServer((c) => c.pipe(c));
      await new Promise<void>((r) => s.listen(port, ip, () => r()));
      port = (s.address() as net.AddressInfo).port;
      servers.push(s);
    }
  });
  after(() => servers.forEach((s) => s.close()));

  it('connects straight to a workload of this node after the inbound checks, and counts it', async () => {
    const p = dial({ ip: local.ip, port, identity: idOf(local) });
    assert.ok(p, 'a local workload takes the same-node path');
    const sock = await p;
    sock.write('ping');
    const [echo] = (await new Promise((r) => sock.once('data', (d) => r([d])))) as [Buffer];
    assert.equal(echo.toString(), 'ping');
    sock.destroy();
    assert.equal(await count('ok'), 1);
  });

  it('leaves other nodes, unknown addresses and a mismatched identity to HBONE', () => {
    assert.equal(dial({ ip: remote.ip, port, identity: idOf(remote) }), undefined);
    assert.equal(dial({ ip: '127.0.46.99', port, identity: idOf(local) }), undefined);
    assert.equal(
      dial({ ip: local.ip, port, identity: `spiffe://${TD}/ns/ns/sa/other` }),
      undefined,
    );
    assert.equal(dial({ ip: local.ip, port }), undefined, 'no identity: not in the mesh');
  });

  it('still enforces the waypoint rule and L4 policy, with the proxy as the source', async () => {
    // guarded has a waypoint at 127.0.46.60; this proxy is not it.
    await assert.rejects(
      dial({ ip: guarded.ip, port, identity: idOf(guarded) })!,
      /refused \(401\).*waypoint/,
    );
    state = l4([allowPrincipals('ns', 'only-web', [`${TD}/ns/ns/sa/web`])]);
    await assert.rejects(dial({ ip: local.ip, port, identity: idOf(local) })!, /refused \(401\)/);
    state = l4([allowPrincipals('ns', 'wp-ok', [`${TD}/ns/ns/sa/wp`])]);
    const sock = await dial({ ip: local.ip, port, identity: idOf(local) })!;
    sock.destroy();
    assert.equal(await count('denied'), 2);
    assert.equal(await count('ok'), 2);
  });

  it('reports a workload that does not listen as a dial error', async () => {
    state = l4();
    await assert.rejects(
      dial({ ip: local.ip, port: 1, identity: idOf(local) })!,
      /dial 127\.0\.46\.2:1: .*ECONNREFUSED/,
    );
    assert.equal(await count('error'), 1);
  });
});
