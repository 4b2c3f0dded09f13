/**
 * Interop with Istio's own Go HBONE implementation (istio.io/istio/pkg/hbone), built by
 * build.sh: its dialer tunnels through Shoal's ztunnel inbound, and Shoal's ztunnel tunnels to
 * its server. Both sides check the other's SPIFFE id.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { freePort, waitFor } from '@shoal/common';
import { outboundAddress } from '@shoal/node';
import { TypeUrls, encodeMessage } from '@shoal/proto';
// Test doubles and fixtures of the node package (test code, not its public API).
import type { FakeAdsServer } from '../../../services/node/src/testing/fake-ads-server.js';
import {
  echoServer,
  roundTrip,
  serviceResource,
  spawnNode,
  startControl,
  waitForInbound,
  workloadResource,
  type NodeProcess,
  type TestControl,
  type WorkloadSpec,
} from '../../../services/node/src/testing/fixtures.js';

// Loopback plan of this file: node 127.0.12.1; workloads 127.0.22.x; outbound 127.113.*.
const TD = 'interop.local';
const C = 'c1';
const id = (sa: string) => `spiffe://${TD}/ns/interop/sa/${sa}`;
const app: WorkloadSpec = {
  name: 'app',
  namespace: 'interop',
  serviceAccount: 'shoal-app',
  ip: '127.0.22.1',
  node: 'n1',
  cluster: C,
  trustDomain: TD,
  services: { 'interop/app.interop.svc': [[80, 8080]] },
};
const goSrv: WorkloadSpec = {
  name: 'go',
  namespace: 'interop',
  serviceAccount: 'go-server',
  ip: '127.0.22.2',
  node: 'elsewhere',
  cluster: C,
  trustDomain: TD,
  services: { 'interop/go.interop.svc': [[80, 9090]] },
};

function goBinary(): string {
  return execFileSync(join(import.meta.dirname, 'build.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

type Event = Record<string, string>;

function runGo(
  bin: string,
  args: string[],
): { child: ChildProcess; events: Event[]; next: (pred: (e: Event) => boolean) => Promise<Event> } {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Event[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      events.push(JSON.parse(l) as Event);
    } catch {
      /* Istio's log lines go to stderr; ignore anything else */
    }
  });
  const next = async (pred: (e: Event) => boolean) => {
    await waitFor('go event', () => Promise.resolve(events.some(pred)), {
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    return events.find(pred)!;
  };
  return { child, events, next };
}

describe('HBONE interop with Istio Go pkg/hbone', () => {
  let bin: string;
  let dir: string;
  let control: TestControl;
  let ads: FakeAdsServer;
  let node: NodeProcess;
  const servers: net.Server[] = [];
  const goProcs: ChildProcess[] = [];

  const certFiles = async (sa: string) => {
    const c = await control.issue(id(sa), 600_000);
    await writeFile(join(dir, `${sa}.crt`), c.cert);
    await writeFile(join(dir, `${sa}.key`), c.key);
    return [
      '-cert',
      join(dir, `${sa}.crt`),
      '-key',
      join(dir, `${sa}.key`),
      '-ca',
      join(dir, 'root.pem'),
    ];
  };

  before(async () => {
    bin = goBinary();
    dir = await mkdtemp(join(tmpdir(), 'shoal-interop-'));
    control = await startControl({
      dir,
      trustDomain: TD,
      cluster: C,
      nodes: { n1: [app] },
      certTtlMs: 600_000,
    });
    ads = control.ads;
    ads.set(
      TypeUrls.authorization,
      [
        {
          name: 'interop/allow-go',
          value: encodeMessage(TypeUrls.authorization, {
            name: 'allow-go',
            namespace: 'interop',
            scope: 1,
            action: 0,
            groups: [
              {
                rules: [
                  { matches: [{ principals: [{ exact: `${TD}/ns/interop/sa/go-client` }] }] },
                ],
              },
            ],
          }),
        },
      ],
      'v1',
    );
    ads.set(
      TypeUrls.address,
      [
        workloadResource(app),
        workloadResource(goSrv),
        serviceResource({
          namespace: 'interop',
          hostname: 'go.interop.svc',
          vip: '127.0.32.2',
          ports: [[80, 9090]],
        }),
      ],
      'v1',
    );
    servers.push(
      await echoServer(app.ip, 8080, 'shoal-app:'),
      await echoServer(goSrv.ip, 9090, 'behind-go:'),
    );
    node = spawnNode({
      ...control.nodeArgs,
      node: 'n1',
      'node-ip': '127.0.12.1',
      'admin-port': await freePort('127.0.12.1'),
      'outbound-octet': 113,
      'join-token': 'tok-n1',
    });
    await waitFor(
      'node ready',
      async () => (await fetch(`${node.adminUrl}/ready`).catch(() => undefined))?.status === 200,
      { timeoutMs: 20_000 },
    );
    await waitForInbound(node, 1);
  });

  after(async () => {
    for (const p of goProcs) p.kill('SIGKILL');
    await node?.stop();
    await control?.close();
    for (const s of servers) s.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("Istio's Go dialer tunnels through Shoal's inbound; each side verifies the other", async () => {
    const go = runGo(bin, [
      '-mode',
      'dial',
      ...(await certFiles('go-client')),
      '-proxy',
      `${app.ip}:15008`,
      '-target',
      `${app.ip}:8080`,
      '-payload',
      'ping',
      '-read',
      '14',
      '-expect',
      id('shoal-app'),
    ]);
    goProcs.push(go.child);
    const ev = await go.next((e) => e.event === 'result' || e.event === 'error');
    assert.deepEqual(ev, { event: 'result', peer: id('shoal-app'), echo: 'shoal-app:ping' });

    // Shoal checks the Go client's identity: a different service account is refused (401).
    const denied = runGo(bin, [
      '-mode',
      'dial',
      ...(await certFiles('go-intruder')),
      '-proxy',
      `${app.ip}:15008`,
      '-target',
      `${app.ip}:8080`,
      '-expect',
      id('shoal-app'),
    ]);
    goProcs.push(denied.child);
    const ev2 = await denied.next((e) => e.event === 'result' || e.event === 'error');
    assert.equal(ev2.event, 'error');
    assert.match(ev2.error!, /401/);
  });

  it("Shoal's outbound tunnels to Istio's Go HBONE server; each side verifies the other", async () => {
    const go = runGo(bin, [
      '-mode',
      'server',
      ...(await certFiles('go-server')),
      '-listen',
      `${goSrv.ip}:15008`,
      '-expect',
      id('shoal-app'),
    ]);
    goProcs.push(go.child);
    await go.next((e) => e.event === 'ready');
    const out = outboundAddress(113, 'interop/go.interop.svc');
    assert.equal(await roundTrip(app.ip, out, 80, 'hi'), 'behind-go:hi');
    const conn = await go.next((e) => e.event === 'connect');
    assert.equal(conn.peer, id('shoal-app'));
    assert.equal(conn.authority, `${goSrv.ip}:9090`);
    assert.equal(conn.proto, 'HTTP/2.0');
    assert.match(conn.forwarded!, /^for="127\.0\.22\.1:\d+"$/);
  });
});
