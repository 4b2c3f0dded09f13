import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { freePort, waitFor } from '@shoal/common';
import { TypeUrls } from '@shoal/proto';
import type { FakeAdsServer } from './testing/fake-ads-server.js';
import {
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
  any,
  assignment,
  edsCluster,
  route,
  routeConfig,
  waypointListener,
} from './testing/l7-fixtures.js';
import { outboundAddress } from './ztunnel/addresses.js';

// Loopback plan (unique to this file): nodes 127.0.13.{1,2}; workloads 127.0.23.x; service VIPs
// 127.0.33.x; outbound listeners 127.113.*, 127.114.*. Node a runs the clients and some
// destinations; node b the waypoint and the others.
const TD = 'wp.local';
const C = 'c1';
const NS = 'shop';
const WEB = `web.${NS}.svc.cluster.local`;
const GRPC = `grpc.${NS}.svc.cluster.local`;
const WP_IP = '127.0.23.50';
const base = { namespace: NS, cluster: C, trustDomain: TD };
const client: WorkloadSpec = {
  ...base,
  name: 'client',
  serviceAccount: 'client',
  ip: '127.0.23.1',
  node: 'a',
};
const intruder: WorkloadSpec = {
  ...client,
  name: 'intruder',
  serviceAccount: 'intruder',
  ip: '127.0.23.2',
};
const waypoint: WorkloadSpec = {
  ...base,
  name: 'waypoint-1',
  serviceAccount: 'waypoint',
  ip: WP_IP,
  node: 'b',
  services: { [`${NS}/waypoint.${NS}.svc.cluster.local`]: [[15008, 15008]] },
};
const dest = (name: string, ip: string, svc = WEB, port = 8080, node = 'b'): WorkloadSpec => ({
  ...base,
  name,
  serviceAccount: name,
  ip,
  node,
  services: { [`${NS}/${svc}`]: [[port === 8080 ? 80 : port, port]] },
  waypointIp: WP_IP,
});
// web-1 and flaky sit beside the waypoint on node b (reached in process, after the inbound
// checks); web-2 and grpc-1 on node a (reached over HBONE): both upstream paths are covered.
const web1 = dest('web-1', '127.0.23.5');
const web2 = dest('web-2', '127.0.23.6', WEB, 8080, 'a');
const flaky = dest('flaky', '127.0.23.7');
const grpcDest = dest('grpc-1', '127.0.23.8', GRPC, 50051, 'a');
const LISTENER = `waypoint/${NS}/waypoint/15008`;
const cl = (host: string, port = 80) => `outbound|${port}||${host}`;
const V1 = cl(`v1.${WEB}`);
const V2 = cl(`v2.${WEB}`);
const FLAKY = cl(`flaky.${WEB}`);
const sha = (p: string) => createHash('sha1').update(p).digest('base64');

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: { who?: string; url?: string; headers?: Record<string, string>; body?: string };
}

/** An HTTP/1.1 request from a workload IP to a service's outbound address on node a. */
function request(
  from: string,
  path: string,
  headers: Record<string, string> = {},
  agent?: http.Agent,
  send?: { method: string; body: string[] },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: outboundAddress(113, `${NS}/${WEB}`),
        port: 80,
        path,
        method: send?.method ?? 'GET',
        localAddress: from,
        headers: { host: WEB, ...headers },
        agent: agent ?? false,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          let json: Answer['json'] = {};
          try {
            json = JSON.parse(body) as Answer['json'];
          } catch {
            json = { who: body };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    r.on('error', reject);
    for (const chunk of send?.body ?? []) r.write(chunk);
    r.end();
  });
}

describe('waypoint L7 through HBONE (e2e, fake ADS server)', () => {
  let dir: string;
  let control: TestControl;
  let ads: FakeAdsServer;
  let nodeA: NodeProcess;
  let nodeB: NodeProcess;
  const servers: { close(): unknown }[] = [];
  const hits = new Map<string, string[]>();
  const jwtKeys = {
    good: undefined as unknown as CryptoKey,
    bad: undefined as unknown as CryptoKey,
    jwks: '',
  };

  const token = (key: CryptoKey, claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://issuer.test')
      .setAudience('web')
      .setExpirationTime('5m')
      .sign(key);

  const routes = (splitV1: number, extraBad = false) =>
    routeConfig(LISTENER, [
      {
        name: `${WEB}:80`,
        domains: [WEB, `${WEB}:80`, '127.0.33.1:80'],
        routes: [
          route(
            'redirect',
            { path: '/old' },
            { redirect: { hostRedirect: 'example.org', pathRedirect: '/new', responseCode: 1 } },
          ),
          route('jwt', { prefix: '/jwt' }, { route: { cluster: V1 } }),
          route(
            'split',
            { prefix: '/split' },
            {
              route: {
                weightedClusters: {
                  clusters: [
                    { name: V1, weight: { value: splitV1 } },
                    { name: V2, weight: { value: 100 - splitV1 } },
                  ],
                },
              },
            },
          ),
          route(
            'canary',
            { prefix: '/q', headers: [{ name: 'x-canary', stringMatch: { exact: 'yes' } }] },
            { route: { cluster: V2 } },
          ),
          route(
            'query',
            { prefix: '/q', queryParameters: [{ name: 'v', stringMatch: { exact: '2' } }] },
            { route: { cluster: V2 } },
          ),
          route('q-default', { prefix: '/q' }, { route: { cluster: V1 } }),
          route(
            'retry',
            { prefix: '/retry' },
            {
              route: {
                cluster: FLAKY,
                retryPolicy: {
                  retryOn: '5xx,connect-failure',
                  numRetries: { value: 3 },
                  perTryTimeout: { nanos: 500_000_000 },
                },
              },
            },
          ),
          route(
            'slow',
            { prefix: '/slow' },
            { route: { cluster: V1, timeout: { nanos: 300_000_000 } } },
          ),
          route(
            'rewrite',
            { prefix: '/api/' },
            { route: { cluster: V1, prefixRewrite: '/v2/' } },
            {
              requestHeadersToAdd: [{ header: { key: 'x-added', value: 'yes' }, appendAction: 2 }],
              requestHeadersToRemove: ['x-remove'],
              responseHeadersToAdd: [{ header: { key: 'x-resp', value: 'waypoint' } }],
            },
          ),
          route(
            'ratelimit',
            { prefix: '/limited' },
            { route: { cluster: V1 } },
            {
              typedPerFilterConfig: { 'envoy.filters.http.local_ratelimit': rl(3) },
            },
          ),
          route(
            'cors',
            { prefix: '/cors' },
            { route: { cluster: V1 } },
            {
              typedPerFilterConfig: { 'envoy.filters.http.cors': corsPolicy() },
            },
          ),
          route(
            'basic',
            { prefix: '/basic' },
            { route: { cluster: V1 } },
            {
              typedPerFilterConfig: { 'envoy.filters.http.basic_auth': basicUsers() },
            },
          ),
          route(
            'rbac',
            { prefix: '/rbac' },
            { route: { cluster: V1 } },
            {
              typedPerFilterConfig: {
                'envoy.filters.http.rbac.allow': rbacOnly(`spiffe://${TD}/ns/${NS}/sa/client`),
              },
            },
          ),
          route(
            'mirror',
            { prefix: '/mirror' },
            {
              route: {
                cluster: V1,
                requestMirrorPolicies: [
                  { cluster: V2, runtimeFraction: { defaultValue: { numerator: 100 } } },
                ],
              },
            },
          ),
          ...(extraBad
            ? [route('bad', { safeRegex: { regex: '/(unclosed' } }, { route: { cluster: V1 } })]
            : []),
          route('default', { prefix: '/' }, { route: { cluster: cl(WEB) } }),
        ],
      },
      {
        name: `${GRPC}:50051`,
        domains: [GRPC, `${GRPC}:50051`, '127.0.33.2:50051'],
        routes: [route('grpc', { prefix: '/' }, { route: { cluster: cl(GRPC, 50051) } })],
      },
    ]);
  const perRoute = any;
  const rl = (n: number) =>
    perRoute(L7Types.rateLimit, {
      statPrefix: 'rl',
      tokenBucket: { maxTokens: n, tokensPerFill: { value: n }, fillInterval: { seconds: 60 } },
    });
  const corsPolicy = () =>
    perRoute(L7Types.corsPolicy, {
      allowOriginStringMatch: [{ exact: 'https://app.example.com' }],
      allowMethods: 'GET,POST',
      allowHeaders: 'content-type',
      maxAge: '600',
    });
  const basicUsers = () =>
    perRoute(L7Types.basicAuthPerRoute, { users: { inlineString: `alice:{SHA}${sha('secret')}` } });
  const rbacOnly = (principal: string) =>
    perRoute(L7Types.rbacPerRoute, {
      rbac: {
        rules: {
          action: 0,
          policies: {
            only: {
              permissions: [{ any: true }],
              principals: [{ authenticated: { principalName: { exact: principal } } }],
            },
          },
        },
      },
    });

  const pushL7 = (version: string, splitV1 = 80, bad = false) => {
    ads.set(TypeUrls.cluster, [cl(WEB), V1, V2, FLAKY, cl(GRPC, 50051)].map(edsCluster), version);
    ads.set(
      TypeUrls.endpoint,
      [
        assignment(cl(WEB), [
          [web1.ip, 8080],
          [web2.ip, 8080],
        ]),
        assignment(V1, [[web1.ip, 8080]]),
        assignment(V2, [[web2.ip, 8080]]),
        // The flaky endpoint answers 503; with retries each request lands on web-1 eventually.
        assignment(FLAKY, [
          [flaky.ip, 8080],
          [web1.ip, 8080],
        ]),
        assignment(cl(GRPC, 50051), [[grpcDest.ip, 50051]]),
      ],
      version,
    );
    ads.set(
      TypeUrls.listener,
      [
        waypointListener(LISTENER, [
          [
            'envoy.filters.http.jwt_authn',
            L7Types.jwt,
            {
              providers: {
                issuer: {
                  issuer: 'https://issuer.test',
                  audiences: ['web'],
                  localJwks: { inlineString: jwtKeys.jwks },
                  payloadInMetadata: 'issuer',
                  claimToHeaders: [{ headerName: 'x-user', claimName: 'sub' }],
                },
              },
              requirementMap: { need: { providerName: 'issuer' } },
              rules: [{ match: { prefix: '/jwt' }, requires: { providerName: 'issuer' } }],
            },
          ],
          [
            'envoy.filters.http.basic_auth',
            L7Types.basicAuth,
            { users: { inlineString: `nobody:{SHA}${sha('x')}` } },
            true,
          ],
          ['envoy.filters.http.cors', L7Types.cors, {}],
          ['envoy.filters.http.local_ratelimit', L7Types.rateLimit, { statPrefix: 'rl' }],
          [
            'envoy.filters.http.rbac.deny',
            L7Types.rbac,
            {
              rules: {
                action: 1,
                policies: {
                  admin: {
                    permissions: [{ urlPath: { path: { prefix: '/admin' } } }],
                    principals: [{ any: true }],
                  },
                },
              },
            },
          ],
          ['envoy.filters.http.rbac.allow', L7Types.rbac, {}],
        ]),
      ],
      version,
    );
    ads.set(TypeUrls.route, [routes(splitV1, bad)], version);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-wp-e2e-'));
    control = await startControl({
      dir,
      trustDomain: TD,
      cluster: C,
      nodes: { a: [client, intruder, web2, grpcDest], b: [waypoint, web1, flaky] },
    });
    ads = control.ads;

    const good = await generateKeyPair('ES256', { extractable: true });
    const bad = await generateKeyPair('ES256');
    jwtKeys.good = good.privateKey;
    jwtKeys.bad = bad.privateKey;
    jwtKeys.jwks = JSON.stringify({
      keys: [{ ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'ES256' }],
    });

    // Destinations: echo who answered, the path and the headers they saw.
    for (const w of [web1, web2]) {
      const srv = http.createServer((req, res) => {
        hits.set(w.name, [...(hits.get(w.name) ?? []), `${req.headers.host} ${req.url}`]);
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        const reply = () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ who: w.name, url: req.url, headers: req.headers, body }));
        };
        req.once('end', () => (req.url?.startsWith('/slow') ? setTimeout(reply, 2000) : reply()));
      });
      await new Promise<void>((r) => srv.listen(8080, w.ip, () => r()));
      servers.push(srv);
    }
    const flakySrv = http.createServer((req, res) => {
      hits.set('flaky', [...(hits.get('flaky') ?? []), `${req.url}`]);
      res.writeHead(503).end('flaky');
    });
    await new Promise<void>((r) => flakySrv.listen(8080, flaky.ip, () => r()));
    servers.push(flakySrv);
    const g = new grpc.Server();
    g.addService(echoService, {
      echo: (
        call: grpc.ServerUnaryCall<{ msg: string }, { msg: string; peer: string }>,
        cb: grpc.sendUnaryData<{ msg: string; peer: string }>,
      ) => cb(null, { msg: `echo:${call.request.msg}`, peer: 'grpc-1' }),
    });
    await new Promise<number>((res, rej) =>
      g.bindAsync(`${grpcDest.ip}:50051`, grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? rej(e) : res(p),
      ),
    );
    servers.push({ close: () => g.forceShutdown() });

    ads.set(TypeUrls.authorization, [], 'v1');
    ads.set(
      TypeUrls.address,
      [
        ...[client, intruder, waypoint, web1, web2, flaky, grpcDest].map(workloadResource),
        serviceResource({
          namespace: NS,
          hostname: WEB,
          vip: '127.0.33.1',
          ports: [[80, 8080]],
          waypointIp: WP_IP,
        }),
        serviceResource({
          namespace: NS,
          hostname: GRPC,
          vip: '127.0.33.2',
          ports: [[50051, 50051]],
          waypointIp: WP_IP,
        }),
      ],
      'v1',
    );
    pushL7('v1');
    const common = control.nodeArgs;
    nodeA = spawnNode({
      ...common,
      node: 'a',
      'node-ip': '127.0.13.1',
      'admin-port': await freePort('127.0.13.1'),
      'outbound-octet': 113,
      'join-token': 'tok-a',
    });
    nodeB = spawnNode({
      ...common,
      node: 'b',
      'node-ip': '127.0.13.2',
      'admin-port': await freePort('127.0.13.2'),
      'outbound-octet': 114,
      'join-token': 'tok-b',
    });
    // Every destination listening (client, intruder, web-2, grpc-1 on a; web-1, flaky on b),
    // not just the first path to answer: a test starting early met web-2 not yet listening.
    await Promise.all([waitForInbound(nodeA, 4), waitForInbound(nodeB, 2)]);
    await waitFor(
      'waypoint serving',
      async () => (await request(client.ip, '/').catch(() => undefined))?.status === 200,
      { timeoutMs: 30_000 },
    );
  });

  after(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await control?.close();
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('routes by path, header and query, rewrites, modifies headers and redirects', async () => {
    assert.equal((await request(client.ip, '/q')).json.who, 'web-1');
    assert.equal((await request(client.ip, '/q', { 'x-canary': 'yes' })).json.who, 'web-2');
    assert.equal((await request(client.ip, '/q?v=2')).json.who, 'web-2');
    const rw = await request(client.ip, '/api/items?x=1', { 'x-remove': 'gone' });
    assert.equal(rw.json.url, '/v2/items?x=1');
    assert.equal(rw.json.headers?.['x-added'], 'yes');
    assert.equal(rw.json.headers?.['x-remove'], undefined);
    assert.equal(rw.headers['x-resp'], 'waypoint');
    const rd = await request(client.ip, '/old');
    assert.equal(rd.status, 302);
    assert.equal(rd.headers.location, 'http://example.org/new');
    assert.equal((await request(client.ip, '/slow')).status, 504, 'route timeout');
    assert.equal((await request(client.ip, '/admin')).status, 403, 'RBAC DENY at the listener');
  });

  it('forwards request bodies as the client framed them, and none for a GET', async () => {
    // web-1 is reached in process beside the waypoint, web-2 (x-canary) over HBONE.
    for (const [canary, who] of [
      [{}, 'web-1'],
      [{ 'x-canary': 'yes' }, 'web-2'],
    ] as const) {
      const get = await request(client.ip, '/q', canary);
      assert.equal(get.json.who, who);
      assert.equal(get.json.body, '');
      assert.equal(get.json.headers?.['content-length'], undefined, `${who}: GET has no body`);
      assert.equal(get.json.headers?.['transfer-encoding'], undefined);
      const sized = await request(
        client.ip,
        '/q',
        { ...canary, 'content-length': '11' },
        undefined,
        { method: 'POST', body: ['hello', ' world'] },
      );
      assert.equal(sized.json.body, 'hello world', `${who}: Content-Length body`);
      assert.equal(sized.json.headers?.['content-length'], '11');
      const chunked = await request(client.ip, '/q', canary, undefined, {
        method: 'POST',
        body: ['chunk-1;', 'chunk-2'],
      });
      assert.equal(chunked.json.body, 'chunk-1;chunk-2', `${who}: chunked body`);
      assert.equal(chunked.json.headers?.['transfer-encoding'], 'chunked');
      const empty = await request(
        client.ip,
        '/q',
        { ...canary, 'content-length': '0' },
        undefined,
        {
          method: 'POST',
          body: [],
        },
      );
      assert.equal(empty.json.body, '');
      assert.equal(
        empty.json.headers?.['content-length'],
        '0',
        `${who}: empty POST keeps its length`,
      );
    }
  });

  it('validates JWTs against the inline JWKS and passes claims on', async () => {
    assert.equal((await request(client.ip, '/jwt')).status, 401, 'missing token');
    const forged = await token(jwtKeys.bad, { sub: 'mallory' });
    assert.equal(
      (await request(client.ip, '/jwt', { authorization: `Bearer ${forged}` })).status,
      401,
      'wrong key',
    );
    const ok = await request(client.ip, '/jwt', {
      authorization: `Bearer ${await token(jwtKeys.good, { sub: 'alice' })}`,
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.headers?.['x-user'], 'alice');
    assert.equal(ok.json.headers?.authorization, undefined, 'the token is not forwarded');
  });

  it('enforces basic auth, CORS, a local rate limit and RBAC on the peer identity', async () => {
    assert.equal((await request(client.ip, '/basic')).status, 401);
    const auth = (p: string) => ({
      authorization: `Basic ${Buffer.from(`alice:${p}`).toString('base64')}`,
    });
    assert.equal((await request(client.ip, '/basic', auth('wrong'))).status, 401);
    assert.equal((await request(client.ip, '/basic', auth('secret'))).status, 200);
    const pre = await request(client.ip, '/cors', {
      origin: 'https://app.example.com',
      'access-control-request-method': 'POST',
    }).then((r) => r);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
    const preflight = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http
        .request(
          {
            host: outboundAddress(113, `${NS}/${WEB}`),
            port: 80,
            path: '/cors',
            method: 'OPTIONS',
            localAddress: client.ip,
            agent: false,
            headers: {
              host: WEB,
              origin: 'https://app.example.com',
              'access-control-request-method': 'POST',
            },
          },
          (res) => {
            res.resume();
            resolve(res);
          },
        )
        .on('error', reject)
        .end(),
    );
    assert.equal(preflight.statusCode, 200);
    assert.equal(preflight.headers['access-control-allow-methods'], 'GET,POST');
    assert.equal(
      (await request(client.ip, '/cors', { origin: 'https://evil.example' })).headers[
        'access-control-allow-origin'
      ],
      undefined,
    );
    const limited = [];
    for (let i = 0; i < 5; i++) limited.push((await request(client.ip, '/limited')).status);
    assert.deepEqual(limited, [200, 200, 200, 429, 429]);
    assert.equal((await request(client.ip, '/rbac')).status, 200, 'sa/client is allowed');
    assert.equal((await request(intruder.ip, '/rbac')).status, 403, 'sa/intruder is not');
  });

  it('splits traffic by weight and mirrors', async () => {
    const agent = new http.Agent({ keepAlive: true, localAddress: client.ip } as http.AgentOptions);
    const counts = { 'web-1': 0, 'web-2': 0 } as Record<string, number>;
    for (let i = 0; i < 200; i++) {
      const who = (await request(client.ip, '/split', {}, agent)).json.who ?? '';
      counts[who] = (counts[who] ?? 0) + 1;
    }
    agent.destroy();
    const share = counts['web-1']! / 200;
    assert.ok(share > 0.68 && share < 0.92, `web-1 got ${share * 100}% of an 80/20 split`);
    // Both endpoints answered; only web-2 (node a) was reached over HBONE. web-1 sits beside the
    // waypoint on node b and is dialled in process, so the waypoint holds no session to it.
    const dump = (await (await fetch(`${nodeB.adminUrl}/config_dump`)).json()) as {
      waypoints: { upstreamSessions: string[] }[];
    };
    const sessions = dump.waypoints.flatMap((w) => w.upstreamSessions);
    const id = (w: WorkloadSpec) => `spiffe://${TD}/ns/${NS}/sa/${w.serviceAccount}`;
    assert.ok(
      sessions.some((k) => k.includes(`|${id(web2)}|${web2.ip}:15008`)),
      `an HBONE session to web-2 on node a: ${sessions.join(', ')}`,
    );
    assert.ok(
      !sessions.some((k) => k.includes(`|${id(web1)}|`)),
      `no HBONE session to web-1 on the waypoint's own node: ${sessions.join(', ')}`,
    );
    const before = (hits.get('web-2') ?? []).length;
    assert.equal((await request(client.ip, '/mirror/x')).json.who, 'web-1');
    await waitFor(
      'mirrored',
      async () =>
        (hits.get('web-2') ?? [])
          .slice(before)
          .some((h) => h.startsWith(`${WEB}-shadow /mirror/x`)),
      { timeoutMs: 3000 },
    );
  });

  it('retries a failing endpoint within the per-try timeout', async () => {
    const before = (hits.get('flaky') ?? []).length;
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await request(client.ip, '/retry')).status);
    assert.deepEqual(statuses, Array(10).fill(200));
    assert.ok(
      (hits.get('flaky') ?? []).length - before >= 4,
      'the flaky endpoint was tried and its 503s retried',
    );
  });

  it('carries a gRPC call (HTTP/2) through the waypoint', async () => {
    // The stand-in for capture: a local forwarder that dials the outbound listener from the
    // client's workload IP (grpc-js cannot choose its source address).
    const fwd = net.createServer((s) => {
      const up = net.connect({
        host: outboundAddress(113, `${NS}/${GRPC}`),
        port: 50051,
        localAddress: client.ip,
      });
      s.pipe(up).pipe(s);
      up.on('error', () => s.destroy());
      s.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => fwd.listen(0, '127.0.0.1', () => r()));
    const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
    const c = new Client(
      `127.0.0.1:${(fwd.address() as net.AddressInfo).port}`,
      grpc.credentials.createInsecure(),
      {
        'grpc.default_authority': `${GRPC}:50051`,
      },
    );
    const reply = await new Promise<{ msg: string }>((resolve, reject) =>
      (
        c as unknown as Record<
          string,
          (req: unknown, cb: (e: Error | null, r: { msg: string }) => void) => void
        >
      ).echo!({ msg: 'hi' }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    c.close();
    fwd.close();
    assert.equal(reply.msg, 'echo:hi');
  });

  it('NACKs a broken route config with zero failed requests, then applies a valid change', async () => {
    let failures = 0;
    let total = 0;
    let stop = false;
    const agent = new http.Agent({ keepAlive: true, localAddress: client.ip } as http.AgentOptions);
    const load = (async () => {
      while (!stop) {
        total++;
        const r = await request(client.ip, '/split', {}, agent).catch(() => undefined);
        if (r?.status !== 200) failures++;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const nack = ads.nextAck(TypeUrls.route);
    ads.set(TypeUrls.route, [routes(80, true)], 'v-bad');
    assert.match((await nack).error ?? '', /waypoint\/shop\/waypoint\/15008.*invalid regex/);
    await new Promise((r) => setTimeout(r, 300));
    const ack = ads.nextAck(TypeUrls.route);
    ads.set(TypeUrls.route, [routes(0)], 'v2');
    assert.equal((await ack).error, undefined);
    stop = true;
    await load;
    agent.destroy();
    assert.ok(total > 10, `made ${total} requests`);
    assert.equal(failures, 0);
    for (let i = 0; i < 10; i++)
      assert.equal(
        (await request(client.ip, '/split')).json.who,
        'web-2',
        'v2 sends 100% to web-2',
      );
    const metrics = await (await fetch(`${nodeB.adminUrl}/metrics`)).text();
    assert.match(
      metrics,
      /shoal_waypoint_requests_total\{[^}]*version="v1"[^}]*service="shop\/web\.shop\.svc\.cluster\.local"[^}]*code="200"/,
    );
    assert.match(metrics, /shoal_waypoint_requests_total\{[^}]*code="504"/);
  });
});

const json = {
  serialize: (o: unknown) => Buffer.from(JSON.stringify(o)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};
const echoService = {
  echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
} as unknown as grpc.ServiceDefinition;
