/**
 * Pure routing: virtual host by authority, first matching route, weighted cluster choice, header
 * modifiers, URL rewrite, redirect location, retry decisions. No I/O; unit-tested directly.
 */
import type {
  HeaderMatcher,
  HeaderMods,
  Route,
  RouteAction,
  RouteMatch,
  RouteTable,
  StrMatcher,
  VirtualHost,
} from './model.js';

export type Headers = Record<string, string | string[] | undefined>;

export interface RequestView {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case names; `:method`/`:authority`/`:path` are looked up too. */
  readonly headers: Headers;
}

export function headerValue(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function matchStr(m: StrMatcher, v: string | undefined): boolean {
  if (v === undefined) return false;
  if (m.kind === 'regex') return m.re.test(v);
  const a = m.ignoreCase ? v.toLowerCase() : v;
  const b = m.ignoreCase ? m.value.toLowerCase() : m.value;
  switch (m.kind) {
    case 'exact':
      return a === b;
    case 'prefix':
      return a.startsWith(b);
    case 'suffix':
      return a.endsWith(b);
    case 'contains':
      return a.includes(b);
  }
}

function pseudo(req: RequestView, name: string): string | undefined {
  if (name === ':method') return req.method;
  if (name === ':path') return req.path;
  if (name === ':authority')
    return headerValue(req.headers, ':authority') ?? headerValue(req.headers, 'host');
  return headerValue(req.headers, name);
}

export function matchHeader(m: HeaderMatcher, req: RequestView): boolean {
  const v = pseudo(req, m.name);
  const hit = m.match ? matchStr(m.match, v) : (v !== undefined) === (m.present ?? true);
  return hit !== m.invert;
}

export function matchRoute(m: RouteMatch, req: RequestView): boolean {
  const path = m.caseSensitive ? req.path : req.path.toLowerCase();
  const p = m.path;
  switch (p.kind) {
    case 'prefix':
      if (!path.startsWith(m.caseSensitive ? p.value : p.value.toLowerCase())) return false;
      break;
    case 'exact':
      if (path !== (m.caseSensitive ? p.value : p.value.toLowerCase())) return false;
      break;
    case 'regex':
      if (!p.re.test(req.path)) return false;
      break;
    case 'separated':
      if (!(path === p.value || path.startsWith(p.value.endsWith('/') ? p.value : `${p.value}/`)))
        return false;
  }
  if (
    m.grpc &&
    !String(headerValue(req.headers, 'content-type') ?? '').startsWith('application/grpc')
  )
    return false;
  for (const h of m.headers) if (!matchHeader(h, req)) return false;
  for (const q of m.query) {
    const v = req.query.get(q.name) ?? undefined;
    if (q.match ? !matchStr(q.match, v) : v === undefined) return false;
  }
  return true;
}

function domainMatches(domain: string, host: string): boolean {
  if (domain === '*' || domain === host) return true;
  if (domain.startsWith('*')) return host.endsWith(domain.slice(1));
  if (domain.endsWith('*')) return host.startsWith(domain.slice(0, -1));
  return false;
}

/**
 * Envoy's order: exact domain, then the longest suffix wildcard, then the longest prefix
 * wildcard, then `*`. Tried with each candidate authority in turn (the tunnel's original
 * destination first: it says which service the client meant).
 */
export function selectVirtualHost(
  t: RouteTable,
  authorities: readonly (string | undefined)[],
): VirtualHost | undefined {
  for (const a of authorities) {
    if (!a) continue;
    const host = a.toLowerCase();
    const bare = host.replace(/:\d+$/, '');
    for (const h of t.ignorePort || bare === host ? [bare] : [host, bare]) {
      let best: { vh: VirtualHost; rank: number } | undefined;
      for (const vh of t.virtualHosts) {
        for (const d of vh.domains) {
          if (d === '*' || !domainMatches(d, h)) continue;
          const rank = d === h ? 1e6 : d.startsWith('*') ? 2e5 + d.length : 1e5 + d.length;
          if (!best || rank > best.rank) best = { vh, rank };
        }
      }
      if (best) return best.vh;
    }
  }
  return t.virtualHosts.find((vh) => vh.domains.includes('*'));
}

/**
 * Routes of a virtual host bucketed by the first path segment they require, so a request is
 * matched against the few routes that can apply instead of all of them (a waypoint may carry
 * thousands). A route whose path match names a whole first segment (`/a/…` prefix, `/a` exact
 * or separated) goes to that segment's bucket — case-sensitive and case-insensitive routes in
 * separate maps, keyed as they compare; every other route (regex, `/`, `/a` prefix) to `any`.
 * Each bucket keeps the table's order: the answer is the earliest first-match over the buckets.
 */
interface RouteIndex {
  readonly exact: ReadonlyMap<string, readonly number[]>;
  readonly lower: ReadonlyMap<string, readonly number[]>;
  readonly any: readonly number[];
}

const indexes = new WeakMap<VirtualHost, RouteIndex>();

/** The first path segment of `p` when `p` spells it out whole (followed by `/`, or the end when
 * `whole` is set); undefined otherwise. */
function firstSegment(p: string, whole: boolean): string | undefined {
  if (p.charCodeAt(0) !== 47 /* / */) return undefined;
  const end = p.indexOf('/', 1);
  if (end > 1) return p.slice(1, end);
  return whole && end < 0 && p.length > 1 ? p.slice(1) : undefined;
}

function routeIndex(vh: VirtualHost): RouteIndex {
  let ix = indexes.get(vh);
  if (ix) return ix;
  const exact = new Map<string, number[]>();
  const lower = new Map<string, number[]>();
  const any: number[] = [];
  vh.routes.forEach((r, i) => {
    const p = r.match.path;
    const seg =
      p.kind === 'regex'
        ? undefined
        : firstSegment(
            r.match.caseSensitive ? p.value : p.value.toLowerCase(),
            p.kind !== 'prefix',
          );
    if (seg === undefined) return void any.push(i);
    const m = r.match.caseSensitive ? exact : lower;
    const list = m.get(seg);
    if (list) list.push(i);
    else m.set(seg, [i]);
  });
  ix = { exact, lower, any };
  indexes.set(vh, ix);
  return ix;
}

/** The first route in `vh.routes` order that matches (Envoy's rule). */
export function selectRoute(vh: VirtualHost, req: RequestView): Route | undefined {
  const ix = routeIndex(vh);
  let best = Infinity;
  const firstIn = (list: readonly number[] | undefined) => {
    if (!list) return;
    for (const i of list) {
      if (i >= best) return;
      if (matchRoute(vh.routes[i]!.match, req)) return void (best = i);
    }
  };
  firstIn(ix.any);
  const seg = firstSegment(req.path, true);
  if (seg !== undefined) firstIn(ix.exact.get(seg));
  if (ix.lower.size > 0) {
    const low = firstSegment(req.path.toLowerCase(), true);
    if (low !== undefined) firstIn(ix.lower.get(low));
  }
  return best === Infinity ? undefined : vh.routes[best];
}

/** Weighted choice with `r` uniform in [0, 1). */
export function pickCluster(a: Extract<RouteAction, { kind: 'route' }>, r: number): string {
  let x = r * a.totalWeight;
  for (const c of a.clusters) {
    if (x < c.weight) return c.name;
    x -= c.weight;
  }
  return a.clusters.at(-1)!.name;
}

/** Apply header modifiers in place: removals first, then additions (Envoy's order). */
export function applyHeaderMods(h: Headers, mods: HeaderMods): void {
  for (const k of mods.remove) delete h[k];
  for (const a of mods.add) {
    const cur = h[a.key];
    switch (a.action) {
      case 'append':
        h[a.key] = cur === undefined ? a.value : [...(Array.isArray(cur) ? cur : [cur]), a.value];
        break;
      case 'addIfAbsent':
        if (cur === undefined) h[a.key] = a.value;
        break;
      case 'overwrite':
        h[a.key] = a.value;
        break;
      case 'overwriteIfExists':
        if (cur !== undefined) h[a.key] = a.value;
    }
  }
}

/** The upstream path after prefix / regex rewrite (query kept). */
export function rewritePath(
  a: Extract<RouteAction, { kind: 'route' }>,
  m: RouteMatch,
  path: string,
  search: string,
): string {
  let p = path;
  if (a.prefixRewrite !== undefined && (m.path.kind === 'prefix' || m.path.kind === 'separated')) {
    const rest = p.slice(m.path.value.length);
    p =
      a.prefixRewrite.endsWith('/') && rest.startsWith('/')
        ? a.prefixRewrite + rest.slice(1)
        : a.prefixRewrite + rest;
    if (!p.startsWith('/')) p = `/${p}`;
  } else if (a.regexRewrite) {
    p = p.replace(a.regexRewrite.re, a.regexRewrite.substitution);
  }
  return p + search;
}

export function redirectLocation(
  a: Extract<RouteAction, { kind: 'redirect' }>,
  m: RouteMatch,
  req: { scheme: string; host: string; path: string; search: string },
): string {
  const scheme = a.scheme ?? req.scheme;
  let host = a.host ?? req.host.replace(/:\d+$/, '');
  const origPort = /:(\d+)$/.exec(req.host)?.[1];
  const port = a.port ?? (a.host || a.scheme ? undefined : origPort);
  const defaultPort = scheme === 'https' ? 443 : 80;
  if (port && Number(port) !== defaultPort) host += `:${port}`;
  let path = a.path ?? req.path;
  if (!a.path && a.prefixRewrite !== undefined && m.path.kind === 'prefix')
    path = a.prefixRewrite + req.path.slice(m.path.value.length);
  return `${scheme}://${host}${path}${a.stripQuery ? '' : req.search}`;
}

/** Whether an upstream answer (status, or a failure kind) is retriable under `on`. */
export function retriable(
  on: ReadonlySet<string>,
  codes: ReadonlySet<number>,
  outcome: { status: number } | { failure: 'connect' | 'reset' | 'timeout' },
): boolean {
  if ('failure' in outcome) {
    if (outcome.failure === 'connect')
      return (
        on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') || on.has('reset')
      );
    if (outcome.failure === 'timeout') return on.has('5xx') || on.has('gateway-error');
    return on.has('reset') || on.has('5xx');
  }
  const s = outcome.status;
  if (on.has('5xx') && s >= 500) return true;
  if (on.has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
  if (on.has('retriable-4xx') && s === 409) return true;
  return on.has('retriable-status-codes') && codes.has(s);
}
