/**
 * One HTTP request through a waypoint or a gateway (the shared L7 engine): pick the virtual host and route from the config in
 * force when the request started (a push never changes an in-flight request), run the filter
 * chain, then answer locally (redirect, direct response) or forward to a weighted cluster's
 * endpoint with retries, per-try and overall timeouts, header and URL rewrites and mirroring.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from '@shoal/common';
import type { L4State } from '../l4/model.js';
import type { DataplaneStats } from '../stats.js';
import { runFilters, type FilterContext, type RateLimiter } from './filters.js';
import {
  clusterEndpoints,
  clusterService,
  type L7Listener,
  type L7Snapshot,
  type RouteAction,
  type RouteTable,
  type VirtualHost,
} from './model.js';
import {
  applyHeaderMods,
  pickCluster,
  redirectLocation,
  retriable,
  rewritePath,
  selectRoute,
  selectVirtualHost,
  type Headers,
  type RequestView,
} from './router.js';
import { UpstreamFailure, type UpstreamResponse, type Upstreams } from './upstream.js';

/** The config a request runs against: captured once at its start. */
export interface L7View {
  readonly version: string;
  readonly l7: L7Snapshot;
  readonly l4: L4State;
  readonly listener?: L7Listener;
  readonly routes?: RouteTable;
}

export interface ConnInfo {
  /** Waypoint: virtual host by the tunnel's destination first, stats by virtual host.
   * Gateway: virtual host by Host only, stats by the chosen backend service. */
  readonly role: 'waypoint' | 'gateway';
  /** SPIFFE id of the downstream (HBONE peer); '' for a gateway's plain clients. */
  readonly peer: string;
  readonly sourceIp: string;
  /** The address the client dialled: the CONNECT :authority (waypoint) or the gateway's
   * <ip>:<port>. */
  readonly authority: string;
  readonly scheme: 'http' | 'https';
}

export interface ProxyDeps {
  readonly view: () => L7View;
  readonly upstreams: Upstreams;
  readonly limiter: RateLimiter;
  readonly stats: DataplaneStats;
  readonly logger: Logger;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;
type Forward = Extract<RouteAction, { kind: 'route' }>;

const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);
const MAX_BUFFERED = 4 * 1024 * 1024;
const rr = new Map<string, number>();

/**
 * Passive outlier detection: an endpoint that refused a connection is skipped for a while
 * (unless every endpoint is), so a node or site that went away stops receiving requests.
 */
const EJECT_MS = 10_000;
const ejected = new Map<string, number>();
/** Like Istio's default retry policy: a request that could not connect is tried elsewhere. */
const CONNECT_RETRIES = 2;
/**
 * A pooled tunnel can die with its peer (a node that went away) and fail the next request
 * before any response: an idempotent request is then tried once more on another endpoint, as
 * HTTP clients do with a stale keep-alive connection.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

function forwardable(h: Headers): Headers {
  const out: Headers = {};
  for (const k in h) {
    const v = h[k];
    if (v === undefined || k.charCodeAt(0) === 58 /* : */ || HOP.has(k)) continue;
    if (k === 'te' && v !== 'trailers') continue;
    out[k] = v;
  }
  return out;
}

const services = new WeakMap<VirtualHost, string>();

/** The stats key of a virtual host: `ns/host` of its `<name>.<ns>.svc.<domain>` domain, as the
 * L4 stats key services; else its name. Computed once per (immutable) virtual host. */
function serviceOf(vh: VirtualHost): string {
  let key = services.get(vh);
  if (key === undefined) {
    const host = vh.domains.find((d) => /^[^.:]+\.[^.:]+\.svc\.[^:]+$/.test(d));
    key = host ? `${host.split('.')[1]}/${host}` : vh.name;
    services.set(vh, key);
  }
  return key;
}

/** What an edge proxy tells the upstream about the client (Envoy's use_remote_address). */
function edgeHeaders(h: Headers, conn: ConnInfo): Headers {
  const xff = h['x-forwarded-for'];
  h['x-forwarded-for'] = xff ? `${String(xff)}, ${conn.sourceIp}` : conn.sourceIp;
  h['x-forwarded-proto'] = conn.scheme;
  return h;
}

const EMPTY = Buffer.alloc(0);

/**
 * A request that carries no body: HTTP/1.1 with neither Content-Length (other than 0) nor
 * Transfer-Encoding (RFC 9112 6.3), or HTTP/2 whose HEADERS frame ended the stream. Sent on as
 * an empty buffer, it reaches an HTTP/2 upstream framed as the client framed it (END_STREAM on
 * HEADERS; piping the empty stream sent HEADERS and then an empty DATA frame) and skips a
 * stream pipe. The pipe's cost was not measurable in the dataplane bench (waypoint node 0.34
 * and 0.35 vCPU per 1k req/s with this, 0.32 and 0.35 without, in interleaved runs).
 */
export function bodiless(req: Req, h2: boolean): boolean {
  if (h2) return (req as Http2ServerRequest).stream.endAfterHeaders;
  const h = req.headers;
  return h['transfer-encoding'] === undefined && (h['content-length'] ?? '0') === '0';
}

/** Let the (empty) request end, as a pipe would have, so the connection moves on. */
function noBody(req: Req): Buffer {
  req.resume();
  return EMPTY;
}

function readBody(req: Req): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BUFFERED) req.destroy(new Error('request body over 4 MiB cannot be retried'));
      else chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function reply(res: Res, status: number, headers: Headers, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  (res as ServerResponse).writeHead(status, { ...headers, 'content-type': 'text/plain' });
  res.end(body);
}

/**
 * What routes and filters see of a request: path and query string split once, the query parsed
 * only when one looks at it.
 *
 * A class, not an object literal with a `get query()` closing over the handler's scope. V8
 * makes such a literal a dictionary-mode object, and the young-generation GC did not free its
 * getter's closure: the closure's scope (request, response, upstream) survived every scavenge
 * into the old generation and died only in the next full GC. Measured at 2,000 requests/s
 * through a waypoint: 520 KB of dead requests promoted per scavenge (about 6 MB/s), scavenge
 * pauses of 1-2.5 ms; with this class, 43 KB and 0.6 ms. (A standalone repro: 3.8 MB promoted
 * per scavenge with the literal, none with a class.)
 */
class LazyRequestView implements RequestView {
  private parsed: URLSearchParams | undefined;
  readonly path: string;
  /** The query string with its `?`, or empty. */
  readonly search: string;
  constructor(
    readonly method: string,
    url: string,
    readonly headers: Headers,
  ) {
    const qi = url.indexOf('?');
    this.path = qi < 0 ? url : url.slice(0, qi);
    this.search = qi < 0 ? '' : url.slice(qi);
  }
  get query(): URLSearchParams {
    return (this.parsed ??= new URLSearchParams(this.search));
  }
}

/** The view of a request that routes and filters match on (see LazyRequestView). */
export function requestView(
  method: string,
  url: string,
  headers: Headers,
): RequestView & { readonly search: string } {
  return new LazyRequestView(method, url, headers);
}

export function handleRequest(
  deps: ProxyDeps,
  conn: ConnInfo,
  req: Req,
  res: Res,
  h2: boolean,
): void {
  const t0 = performance.now();
  const view = deps.view();
  let service = conn.authority;
  res.once('finish', () =>
    deps.stats.request(service, res.statusCode, performance.now() - t0, conn.role),
  );
  res.once('close', () => {
    if (!res.writableFinished) deps.stats.connection(conn.role, service, 'reset');
  });
  req.on('error', () => undefined);
  const headers = req.headers as Headers;
  const host = String((h2 ? headers[':authority'] : headers.host) ?? conn.authority);
  const rv = requestView(req.method ?? 'GET', req.url ?? '/', headers);
  const { path, search } = rv;
  if (!view.listener || !view.routes)
    return reply(res, 503, {}, `no L7 config for this ${conn.role} yet\n`);
  const gateway = conn.role === 'gateway';
  const vh = selectVirtualHost(view.routes, gateway ? [host] : [conn.authority, host]);
  if (!vh) return reply(res, 404, {}, `no virtual host for ${gateway ? host : conn.authority}\n`);
  service = serviceOf(vh);
  const route = selectRoute(vh, rv);
  if (!route) return reply(res, 404, {}, 'no route matched\n');
  const [dIp, dPort] = [
    conn.authority.replace(/:\d+$/, ''),
    Number(/:(\d+)$/.exec(conn.authority)?.[1] ?? 0),
  ];
  const ctx: FilterContext = {
    req: rv,
    peer: conn.peer,
    sourceIp: conn.sourceIp,
    destinationIp: dIp,
    destinationPort: dPort,
    upstreamHeaders: gateway ? edgeHeaders(forwardable(headers), conn) : forwardable(headers),
    responseHeaders: {},
    metadata: new Map(),
  };
  const a = route.action;
  const listener = view.listener;
  runFilters(listener.name, listener.filters, route, vh, ctx, deps.limiter).then(
    (local) => {
      if (local)
        return reply(
          res,
          local.status,
          { ...ctx.responseHeaders, ...local.headers },
          `${local.body}\n`,
        );
      if (a.kind === 'redirect') {
        const location = redirectLocation(a, route.match, {
          scheme: conn.scheme,
          host,
          path,
          search,
        });
        return reply(res, a.status, { ...ctx.responseHeaders, location }, '');
      }
      if (a.kind === 'direct') return reply(res, a.status, ctx.responseHeaders, a.body);
      applyHeaderMods(ctx.upstreamHeaders, vh.requestHeaders);
      applyHeaderMods(ctx.upstreamHeaders, route.requestHeaders);
      const respond = (u: UpstreamResponse) => {
        const out = forwardable(u.headers);
        applyHeaderMods(out, vh.responseHeaders);
        applyHeaderMods(out, route.responseHeaders);
        Object.assign(out, ctx.responseHeaders);
        (res as ServerResponse).writeHead(u.status, out as Record<string, string>);
        u.body.on('error', () => res.destroy());
        res.once('close', () => {
          if (!res.writableFinished) u.abort();
        });
        u.body.pipe(res as ServerResponse, { end: false });
        u.body.once('end', () => {
          const t = u.trailers();
          if (t && h2)
            (res as Http2ServerResponse).addTrailers(forwardable(t) as Record<string, string>);
          res.end();
        });
      };
      const cluster = pickCluster(a, Math.random());
      if (gateway) service = clusterService(cluster) ?? service;
      return forward(deps, view, a, cluster, req, h2, {
        method: rv.method,
        path: rewritePath(a, route.match, path, search),
        authority: a.hostRewrite ?? host,
        headers: ctx.upstreamHeaders,
      }).then(respond, (err: Error) => {
        const kind = err instanceof UpstreamFailure ? err.kind : 'reset';
        deps.logger.debug({ route: route.name, err: err.message }, 'upstream request failed');
        reply(
          res,
          kind === 'timeout' ? 504 : 503,
          {},
          kind === 'timeout'
            ? 'upstream request timeout\n'
            : `upstream connect error or disconnect/reset before headers: ${err.message}\n`,
        );
      });
    },
    (err: Error) => reply(res, 500, {}, `filter error: ${err.message}\n`),
  );
}

/**
 * Round robin over the cluster's endpoints, skipping ejected ones (unless all are) and, for a
 * retry, the endpoints already tried (unless none is left): Istio's default retry policy
 * (previous_hosts predicate), so a retry is not sent back to the endpoint that just failed.
 */
function endpointFor(view: L7View, cluster: string, tried?: ReadonlySet<string>) {
  const all = clusterEndpoints(view.l7, cluster);
  if (all.length === 0) return undefined;
  const fresh = tried?.size ? all.filter((e) => !tried.has(`${e.ip}:${e.port}`)) : all;
  const pool = fresh.length > 0 ? fresh : all;
  let eps = pool;
  if (ejected.size > 0) {
    const now = Date.now();
    for (const [k, until] of ejected) if (until <= now) ejected.delete(k);
    const healthy = pool.filter((e) => !ejected.has(`${e.ip}:${e.port}`));
    if (healthy.length > 0) eps = healthy;
  }
  const i = rr.get(cluster) ?? 0;
  rr.set(cluster, i + 1);
  const ep = eps[i % eps.length]!;
  const w = view.l4.workloadsByIp.get(ep.ip);
  return { ip: ep.ip, port: ep.port, ...(w?.hbone ? { identity: w.identity } : {}) };
}

async function forward(
  deps: ProxyDeps,
  view: L7View,
  a: Forward,
  cluster: string,
  req: Req,
  h2: boolean,
  up: { method: string; path: string; authority: string; headers: Headers },
): Promise<UpstreamResponse> {
  const buffered = a.retry !== undefined || a.mirrors.length > 0;
  const body = bodiless(req, h2) ? noBody(req) : buffered ? await readBody(req) : req;
  for (const m of a.mirrors) {
    const ep = Math.random() < m.fraction ? endpointFor(view, m.cluster) : undefined;
    if (!ep) continue;
    const shadow = { ...up, authority: `${up.authority.replace(/:\d+$/, '')}-shadow`, body };
    deps.upstreams.send(ep, h2, shadow, a.timeoutMs).then(
      (r) => r.body.resume(),
      () => undefined,
    );
  }
  const deadline = performance.now() + a.timeoutMs;
  let tries = 1 + (a.retry?.numRetries ?? 0);
  let connectRetries = 0;
  // An Error captures a stack trace: made only when a try fails or no endpoint is left.
  let last: Error | undefined;
  const tried = new Set<string>();
  for (let i = 0; i < tries; i++) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw new UpstreamFailure('timeout', `route timeout ${a.timeoutMs} ms`);
    const ep = endpointFor(view, cluster, tried);
    if (!ep) throw last ?? new UpstreamFailure('connect', `no healthy upstream in ${cluster}`);
    tried.add(`${ep.ip}:${ep.port}`);
    const perTry = a.retry?.perTryTimeoutMs
      ? Math.min(a.retry.perTryTimeoutMs, remaining)
      : remaining;
    const more = i + 1 < tries;
    try {
      const r = await deps.upstreams.send(ep, h2, { ...up, body }, perTry);
      if (!more || !a.retry || !retriable(a.retry.on, a.retry.statusCodes, { status: r.status }))
        return r;
      r.body.resume();
      last = new UpstreamFailure('reset', `upstream answered ${r.status}`);
    } catch (err) {
      if (!(err instanceof UpstreamFailure)) throw err;
      last = err;
      const staleTunnel = err.kind === 'reset' && IDEMPOTENT.has(up.method.toUpperCase());
      if (err.kind === 'connect' || staleTunnel) {
        ejected.set(`${ep.ip}:${ep.port}`, Date.now() + EJECT_MS);
        // Nothing reached the upstream (or the request is idempotent): try another endpoint.
        if (connectRetries < CONNECT_RETRIES) {
          connectRetries++;
          tries++;
          continue;
        }
      }
      if (!more || !a.retry || !retriable(a.retry.on, a.retry.statusCodes, { failure: err.kind }))
        throw err;
    }
    await new Promise((r) =>
      setTimeout(r, Math.min((a.retry?.backoffMs ?? 25) * 2 ** i * Math.random(), 1000)),
    );
  }
  throw last ?? new UpstreamFailure('connect', `no healthy upstream in ${cluster}`);
}
