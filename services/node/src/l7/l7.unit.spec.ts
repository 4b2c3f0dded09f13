import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  L7Types,
  assignment,
  edsCluster,
  route,
  routeConfig,
  waypointListener,
} from '../testing/l7-fixtures.js';
import { compileL7 } from './compile.js';
import { RateLimiter } from './filters.js';
import { requestView } from './proxy.js';
import type { PathMatch, RouteAction, VirtualHost } from './model.js';
import {
  matchRoute,
  pickCluster,
  redirectLocation,
  retriable,
  rewritePath,
  selectRoute,
  selectVirtualHost,
} from './router.js';

const L = 'waypoint/ns/wp/15008';
const one = (n: { name: string; value: Uint8Array }) => new Map([[n.name, n.value]]);
const compile = (
  routes: Record<string, unknown>[],
  filters: Parameters<typeof waypointListener>[1] = [],
) =>
  compileL7({
    listeners: one(waypointListener(L, filters)),
    routes: one(
      routeConfig(L, [
        { name: 'web', domains: ['web.ns.svc.cluster.local', '10.0.0.1:80'], routes },
      ]),
    ),
    clusters: one(edsCluster('c1')),
    endpoints: one(assignment('c1', [['10.0.0.5', 8080]])),
  });
const view = (path: string, headers: Record<string, string> = {}, method = 'GET') => {
  const [p, q = ''] = path.split('?');
  return { method, path: p!, query: new URLSearchParams(q), headers };
};

describe('waypoint L7 compile and routing (pure)', () => {
  it('matches path, header, query and method in order and picks the virtual host by the tunnel authority', () => {
    const s = compile([
      route(
        'hdr',
        { prefix: '/a', headers: [{ name: 'x-v', stringMatch: { exact: '2' } }] },
        { route: { cluster: 'c2' } },
      ),
      route(
        'qry',
        { prefix: '/a', queryParameters: [{ name: 'q', stringMatch: { prefix: 'y' } }] },
        { route: { cluster: 'c3' } },
      ),
      route(
        'post',
        { path: '/a', headers: [{ name: ':method', stringMatch: { exact: 'POST' } }] },
        { route: { cluster: 'c4' } },
      ),
      route('re', { safeRegex: { regex: '/r/[0-9]+' } }, { route: { cluster: 'c5' } }),
      route('all', { prefix: '/' }, { route: { cluster: 'c1' } }),
    ]);
    const t = s.routes.get(L)!;
    const vh = selectVirtualHost(t, ['10.0.0.1:80', 'whatever'])!;
    assert.equal(vh.name, 'web');
    assert.equal(selectVirtualHost(t, ['10.9.9.9:80', 'other.example']), undefined);
    const name = (p: string, h?: Record<string, string>, m?: string) =>
      selectRoute(vh, view(p, h, m))?.name;
    assert.equal(name('/a', { 'x-v': '2' }), 'hdr');
    assert.equal(name('/a?q=yes'), 'qry');
    assert.equal(name('/a', {}, 'POST'), 'post');
    assert.equal(name('/r/12'), 're');
    assert.equal(name('/r/x'), 'all');
  });

  it('keeps case_sensitive: false through encoding (Envoy default: case-sensitive)', () => {
    const s = compile([
      route(
        'ci',
        { prefix: '/Api', caseSensitive: { value: false } },
        { route: { cluster: 'c1' } },
      ),
      route('cs', { prefix: '/Docs' }, { route: { cluster: 'c1' } }),
    ]);
    const vh = selectVirtualHost(s.routes.get(L)!, ['10.0.0.1:80'])!;
    assert.equal(selectRoute(vh, view('/api/x'))?.name, 'ci');
    assert.equal(selectRoute(vh, view('/APIS'))?.name, 'ci');
    assert.equal(selectRoute(vh, view('/Docs/a'))?.name, 'cs');
    assert.equal(selectRoute(vh, view('/docs/a')), undefined);
  });

  it('finds the same first route through its path index as a scan of every route', () => {
    // Built directly (not decoded) so that case-insensitive matches are covered too.
    const seg = fc.constantFrom('a', 'A', 'ab', 'b', 'r1', 'r10', 'İ', '');
    const path = fc
      .array(seg, { minLength: 0, maxLength: 3 })
      .chain((ss) => fc.constantFrom(`/${ss.join('/')}`, `/${ss.join('/')}/`, ss.join('/')));
    const pathMatch = fc.oneof(
      fc.record({ kind: fc.constantFrom('prefix', 'exact', 'separated'), value: path }),
      path.map((v) => ({ kind: 'regex', re: new RegExp(`^${v.replace(/[^/\w]/g, '.')}`) })),
    ) as fc.Arbitrary<PathMatch>;
    const none = { add: [], remove: [] };
    const routes = fc.array(fc.record({ path: pathMatch, caseSensitive: fc.boolean() }), {
      minLength: 1,
      maxLength: 12,
    });
    fc.assert(
      fc.property(routes, path, (ms, p) => {
        const vh: VirtualHost = {
          name: 'vh',
          domains: ['*'],
          routes: ms.map((m, i) => ({
            name: `r${i}`,
            match: { ...m, headers: [], query: [], grpc: false },
            action: { kind: 'direct', status: 200, body: '' },
            requestHeaders: none,
            responseHeaders: none,
            perFilter: new Map(),
          })),
          requestHeaders: none,
          responseHeaders: none,
          perFilter: new Map(),
        };
        const req = view(p);
        assert.equal(
          selectRoute(vh, req)?.name,
          vh.routes.find((r) => matchRoute(r.match, req))?.name,
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('splits by weight, rewrites, redirects and decides retries', () => {
    const s = compile([
      route(
        'w',
        { prefix: '/api/' },
        {
          route: {
            weightedClusters: {
              clusters: [
                { name: 'a', weight: { value: 90 } },
                { name: 'b', weight: { value: 10 } },
              ],
            },
            prefixRewrite: '/v2/',
          },
        },
      ),
      route(
        'r',
        { prefix: '/old' },
        { redirect: { hostRedirect: 'x.example', prefixRewrite: '/new', responseCode: 3 } },
      ),
    ]);
    const [w, r] = s.routes.get(L)!.virtualHosts[0]!.routes;
    const a = w!.action as Extract<RouteAction, { kind: 'route' }>;
    const picks = Array.from({ length: 1000 }, (_, i) => pickCluster(a, i / 1000));
    assert.equal(picks.filter((p) => p === 'a').length, 900);
    assert.equal(rewritePath(a, w!.match, '/api/items', '?q=1'), '/v2/items?q=1');
    const rd = r!.action as Extract<RouteAction, { kind: 'redirect' }>;
    assert.equal(rd.status, 307);
    assert.equal(
      redirectLocation(rd, r!.match, {
        scheme: 'http',
        host: 'web:80',
        path: '/old/p',
        search: '?z',
      }),
      'http://x.example/new/p?z',
    );
    const on = new Set(['gateway-error', 'connect-failure']);
    assert.equal(retriable(on, new Set(), { status: 503 }), true);
    assert.equal(retriable(on, new Set(), { status: 500 }), false);
    assert.equal(retriable(on, new Set(), { failure: 'connect' }), true);
  });

  it('rejects resources it cannot apply, naming the resource and the field', () => {
    assert.throws(
      () => compile([route('bad', { safeRegex: { regex: '(' } }, { route: { cluster: 'c1' } })]),
      /RouteConfiguration "waypoint\/ns\/wp\/15008".*routes\[0\].*invalid regex/,
    );
    assert.throws(
      () => compile([route('none', { prefix: '/' }, {})]),
      /no route, redirect or direct_response/,
    );
    assert.throws(
      () =>
        compile([
          route(
            'r',
            { prefix: '/' },
            { route: { cluster: 'c1', retryPolicy: { retryOn: 'sometimes' } } },
          ),
        ]),
      /unknown retry_on "sometimes"/,
    );
    assert.throws(
      () =>
        compile(
          [],
          [
            [
              'envoy.filters.http.jwt_authn',
              L7Types.jwt,
              { providers: { p: { issuer: 'i', localJwks: { inlineString: 'not json' } } } },
            ],
          ],
        ),
      /Listener "waypoint\/ns\/wp\/15008".*localJwks.inlineString is not JSON/,
    );
    const badKey = JSON.stringify({
      keys: [{ kty: 'EC', crv: 'P-256', kid: 'broken', x: 'not-a-point', y: 'not-a-point' }],
    });
    assert.throws(
      () =>
        compile(
          [],
          [
            [
              'envoy.filters.http.jwt_authn',
              L7Types.jwt,
              { providers: { p: { issuer: 'i', localJwks: { inlineString: badKey } } } },
            ],
          ],
        ),
      /localJwks.keys\[0\] \(kid "broken"\) is not a usable key/,
    );
    assert.throws(
      () =>
        compile(
          [],
          [
            [
              'envoy.filters.http.basic_auth',
              L7Types.basicAuth,
              { users: { inlineString: 'alice:plaintext' } },
            ],
          ],
        ),
      /users line 1/,
    );
  });

  it('refills the token bucket per fill interval', () => {
    const rl = new RateLimiter();
    const spec = { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000, status: 429 };
    assert.deepEqual(
      [0, 1, 2].map(() => rl.take('k', spec, 0)),
      [true, true, false],
    );
    assert.equal(rl.take('k', spec, 999), false);
    assert.equal(rl.take('k', spec, 1000), true);
    assert.equal(rl.take('k', spec, 1001), false);
  });

  it('gives routes a request view the young-generation GC can free, with the query parsed once', () => {
    // %HasFastProperties tells dictionary-mode objects apart: an object literal with a getter
    // closing over the handler is one, and kept whole requests alive into the old generation.
    setFlagsFromString('--allow-natives-syntax');
    const fast = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
    const rv = requestView('GET', '/a?x=1&y=2', { host: 'h' });
    assert.equal(fast(rv), true, 'the request view has fast properties');
    assert.equal(rv.path, '/a');
    assert.equal(rv.search, '?x=1&y=2');
    assert.equal(rv.query.get('y'), '2');
    assert.equal(rv.query, rv.query, 'parsed once');
    let q: URLSearchParams | undefined;
    const literal = {
      path: '/a',
      get query() {
        return (q ??= new URLSearchParams(''));
      },
    };
    assert.equal(fast(literal), false, 'the pattern it replaces is dictionary-mode');
  });
});
