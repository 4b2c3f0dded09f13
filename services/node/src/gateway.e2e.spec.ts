// @peculiar/x509 resolves its algorithms through tsyringe, which needs a Reflect polyfill.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { generateKeyPair as caKeyPair } from '@shoal/ca';
import { freePort, waitFor } from '@shoal/common';
import { TypeUrls } from '@shoal/proto';
import type { FakeAdsServer } from './testing/fake-ads-server.js';
import {
  allowPrincipals,
  getJson,
  roundTrip,
  serviceResource,
  spawnNode,
  startControl,
  waitForInbound,
  workloadResource,
  type NodeProcess,
  type TestControl,
  type WorkloadSpec,
} from './testing/fixtures.js';
import {
  L7Types,
  assignment,
  edsCluster,
  gatewayListener,
  route,
  routeConfig,
  tlsSecret,
} from './testing/l7-fixtures.js';
import { outboundAddress } from './ztunnel/addresses.js';

// Loopback plan (unique to this file): nodes 127.0.15.{1,2}; workloads 127.0.25.x; service VIPs
// 127.0.35.x; outbound listeners 127.117.*, 127.118.*. Node a hosts the gateway (and a plain
// mesh client); node b the backends, which admit only the gateway's identity.
const TD = 'gw.local';
const C = 'c1';
const NS = 'shop';
const GW_IP = '127.0.25.50';
const HTTP_PORT = 18080;
const HTTPS_PORT = 18443;
const SNI = 'secure.example.com';
const base = { namespace: NS, cluster: C, trustDomain: TD };
const gatewayWl: WorkloadSpec = {
  ...base,
  name: 'gw-1',
  serviceAccount: 'gateway',
  ip: GW_IP,
  node: 'a',
  services: {
    [`${NS}/gw.${NS}.svc.cluster.local`]: [
      [HTTP_PORT, HTTP_PORT],
      [HTTPS_PORT, HTTPS_PORT],
    ],
  },
};
const GATEWAY_ID = `spiffe://${TD}/ns/${NS}/sa/gateway`;
const client: WorkloadSpec = {
  ...base,
  name: 'client',
  serviceAccount: 'client',
  ip: '127.0.25.1',
  node: 'a',
};
const WEB1 = `web-v1.${NS}.svc.cluster.local`;
const WEB2 = `web-v2.${NS}.svc.cluster.local`;
const backend = (name: string, ip: string, host: string): WorkloadSpec => ({
  ...base,
  name,
  serviceAccount: name,
  ip,
  node: 'b',
  services: { [`${NS}/${host}`]: [[80, 8080]] },
});
const web1 = backend('web-1', '127.0.25.5', WEB1);
const web2 = backend('web-2', '127.0.25.6', WEB2);
const cl = (host: string) => `outbound|80||${host}`;
const L_HTTP = `gateway/${NS}/gw/${HTTP_PORT}`;
const L_HTTPS = `gateway/${NS}/gw/${HTTPS_PORT}`;

interface Answer {
  status: number;
  json: { who?: string; url?: string; headers?: Record<string, string> };
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await fetch(`http://${GW_IP}:${HTTP_PORT}${path}`, { headers });
  const text = await r.text();
  try {
    return { status: r.status, json: JSON.parse(text) as Answer['json'] };
  } catch {
    return { status: r.status, json: { who: text } };
  }
}

function getTls(servername: string, ca: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = https.request(
      {
        host: GW_IP,
        port: HTTPS_PORT,
        path: '/',
        servername,
        ca,
        headers: { host: SNI },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) as Answer['json'] }),
        );
      },
    );
    r.on('error', reject);
    r.end();
  });
}

async function selfSigned(host: string): Promise<{ certPem: string; keyPem: string }> {
  const { keys, keyPem } = await caKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${host}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }])],
  });
  return { certPem: cert.toString('pem'), keyPem };
}

describe('gateway (ingress) through HBONE (e2e, fake ADS server)', () => {
  let dir: string;
  let control: TestControl;
  let ads: FakeAdsServer;
  let nodeA: NodeProcess;
  let nodeB: NodeProcess;
  let tls: { certPem: string; keyPem: string };
  const servers: http.Server[] = [];
  let jwtKey: CryptoKey;
  let jwks = '';

  const routes = (name: string, splitV1: number, bad = false) =>
    routeConfig(name, [
      {
        name: `${NS}/gw/http/*`,
        domains: ['*'],
        routes: [
          route('jwt', { prefix: '/jwt' }, { route: { cluster: cl(WEB1) } }),
          route(
            'split',
            { prefix: '/split' },
            {
              route: {
                weightedClusters: {
                  clusters: [
                    { name: cl(WEB1), weight: { value: splitV1 } },
                    { name: cl(WEB2), weight: { value: 100 - splitV1 } },
                  ],
                },
              },
            },
          ),
          ...(bad
            ? [
                route(
                  'bad',
                  { safeRegex: { regex: '/(unclosed' } },
                  { route: { cluster: cl(WEB1) } },
                ),
              ]
            : []),
          route('default', { prefix: '/' }, { route: { cluster: cl(WEB1) } }),
        ],
      },
    ]);

  const pushL7 = (version: string, splitV1 = 80, bad = false) => {
    ads.set(TypeUrls.secret, [tlsSecret(`${NS}/web-tls`, tls.certPem, tls.keyPem)], version);
    ads.set(TypeUrls.cluster, [cl(WEB1), cl(WEB2)].map(edsCluster), version);
    ads.set(
      TypeUrls.endpoint,
      [assignment(cl(WEB1), [[web1.ip, 8080]]), assignment(cl(WEB2), [[web2.ip, 8080]])],
      version,
    );
    ads.set(
      TypeUrls.listener,
      [
        gatewayListener(
          L_HTTP,
          HTTP_PORT,
          [{ name: 'http' }],
          [
            [
              'envoy.filters.http.jwt_authn',
              L7Types.jwt,
              {
                providers: {
                  issuer: {
                    issuer: 'https://issuer.test',
                    audiences: ['web'],
                    localJwks: { inlineString: jwks },
                    claimToHeaders: [{ headerName: 'x-user', claimName: 'sub' }],
                  },
                },
                rules: [{ match: { prefix: '/jwt' }, requires: { providerName: 'issuer' } }],
              },
            ],
          ],
        ),
        gatewayListener(L_HTTPS, HTTPS_PORT, [
          { name: 'https', serverNames: [SNI], secret: `${NS}/web-tls` },
        ]),
      ],
      version,
    );
    ads.set(TypeUrls.route, [routes(L_HTTP, splitV1, bad), routes(L_HTTPS, 100)], version);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-gw-e2e-'));
    control = await startControl({
      dir,
      trustDomain: TD,
      cluster: C,
      nodes: { a: [gatewayWl, client], b: [web1, web2] },
    });
    ads = control.ads;
    tls = await selfSigned(SNI);
    const kp = await generateKeyPair('ES256', { extractable: true });
    jwtKey = kp.privateKey;
    jwks = JSON.stringify({
      keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256' }],
    });

    for (const w of [web1, web2]) {
      const srv = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ who: w.name, url: req.url, headers: req.headers }));
      });
      await new Promise<void>((r) => srv.listen(8080, w.ip, () => r()));
      servers.push(srv);
    }
    // The backends admit only the gateway's SPIFFE identity (checked by node b's ztunnel).
    ads.set(TypeUrls.authorization, [allowPrincipals(NS, 'only-gateway', [GATEWAY_ID])], 'v1');
    ads.set(
      TypeUrls.address,
      [
        ...[gatewayWl, client, web1, web2].map(workloadResource),
        serviceResource({ namespace: NS, hostname: WEB1, vip: '127.0.35.1', ports: [[80, 8080]] }),
      ],
      'v1',
    );
    pushL7('v1');
    const common = control.nodeArgs;
    nodeA = spawnNode({
      ...common,
      node: 'a',
      'node-ip': '127.0.15.1',
      'admin-port': await freePort('127.0.15.1'),
      'outbound-octet': 117,
      'join-token': 'tok-a',
    });
    nodeB = spawnNode({
      ...common,
      node: 'b',
      'node-ip': '127.0.15.2',
      'admin-port': await freePort('127.0.15.2'),
      'outbound-octet': 118,
      'join-token': 'tok-b',
    });
    // Both backends listening (web-1, web-2 on b), not just the first path to answer.
    await waitForInbound(nodeB, 2);
    await waitFor(
      'gateway serving',
      async () => (await get('/').catch(() => undefined))?.status === 200,
      {
        timeoutMs: 45_000,
        intervalMs: 250,
      },
    );
  });

  after(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await control?.close();
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves plain HTTP and reaches the backend over HBONE with the gateway identity', async () => {
    const r = await get('/hello?x=1');
    assert.equal(r.status, 200);
    assert.equal(r.json.who, 'web-1');
    assert.equal(r.json.url, '/hello?x=1');
    assert.equal(r.json.headers?.['x-forwarded-proto'], 'http');
    assert.ok(r.json.headers?.['x-forwarded-for'], 'the client address is forwarded');
    // The same backend refuses a mesh workload that is not the gateway: the 200 above came
    // through node b's ztunnel with sa/gateway's certificate.
    const direct = await roundTrip(
      client.ip,
      outboundAddress(117, `${NS}/${WEB1}`),
      80,
      'GET / HTTP/1.0\r\n\r\n',
    );
    assert.equal(direct, '', 'sa/client is denied at the backend');
    const dump = (await getJson(`${nodeA.adminUrl}/config_dump`)) as {
      gateways: { identity: string; ports: { port: number; tls: boolean; listening: boolean }[] }[];
    };
    assert.equal(dump.gateways[0]?.identity, GATEWAY_ID);
    assert.deepEqual(
      dump.gateways[0]?.ports.map((p) => [p.port, p.tls, p.listening]),
      [
        [HTTP_PORT, false, true],
        [HTTPS_PORT, true, true],
      ],
    );
  });

  it('terminates TLS with the SDS certificate of the filter chain matching the SNI', async () => {
    const r = await getTls(SNI, tls.certPem);
    assert.equal(r.status, 200);
    assert.equal(r.json.who, 'web-1');
    assert.equal(r.json.headers?.['x-forwarded-proto'], 'https');
    await assert.rejects(getTls('other.example.com', tls.certPem), 'no chain for another name');
  });

  it('splits traffic by weight', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const who = (await get('/split')).json.who ?? '';
      counts[who] = (counts[who] ?? 0) + 1;
    }
    const share = (counts['web-1'] ?? 0) / 200;
    assert.ok(share > 0.68 && share < 0.92, `web-1 got ${share * 100}% of an 80/20 split`);
  });

  it('rejects a JWT-protected route without a token and passes claims with one', async () => {
    assert.equal((await get('/jwt')).status, 401);
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://issuer.test')
      .setAudience('web')
      .setExpirationTime('5m')
      .sign(jwtKey);
    const ok = await get('/jwt', { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.headers?.['x-user'], 'alice');
  });

  it('NACKs an invalid gateway route config and keeps serving the old one, then applies a valid one', async () => {
    let failures = 0;
    let total = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        total++;
        if ((await get('/split').catch(() => undefined))?.status !== 200) failures++;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const nack = ads.nextAck(TypeUrls.route, 10_000);
    ads.set(TypeUrls.route, [routes(L_HTTP, 80, true), routes(L_HTTPS, 100)], 'v-bad');
    assert.match((await nack).error ?? '', /gateway\/shop\/gw\/18080.*invalid regex/);
    await new Promise((r) => setTimeout(r, 300));
    const ack = ads.nextAck(TypeUrls.route, 10_000);
    ads.set(TypeUrls.route, [routes(L_HTTP, 0), routes(L_HTTPS, 100)], 'v2');
    assert.equal((await ack).error, undefined);
    stop = true;
    await load;
    assert.ok(total > 10, `made ${total} requests`);
    assert.equal(failures, 0);
    for (let i = 0; i < 10; i++)
      assert.equal((await get('/split')).json.who, 'web-2', 'v2: 100% web-2');
    const metrics = await (await fetch(`${nodeA.adminUrl}/metrics`)).text();
    assert.match(
      metrics,
      /shoal_waypoint_requests_total\{[^}]*version="v1"[^}]*service="shop\/web-v1\.shop\.svc\.cluster\.local"[^}]*code="200"[^}]*proxy="gateway"/,
    );
    assert.match(
      metrics,
      /shoal_waypoint_requests_total\{[^}]*version="v2"[^}]*service="shop\/web-v2\.shop\.svc\.cluster\.local"[^}]*proxy="gateway"/,
    );
  });
});
