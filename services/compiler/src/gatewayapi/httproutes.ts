/**
 * HTTPRoute / GRPCRoute rules → IR routes with resolved backends and policies, ordered by the
 * Gateway API precedence rules (httproute_types.go): exact path, longest prefix, method, most
 * header matches, most query matches; then oldest route, then namespace/name, then rule order.
 */
import {
  parseDuration,
  type BackendTrafficPolicy,
  type GRPCRoute,
  type GRPCRouteMatch,
  type HTTPRoute,
  type HTTPRouteFilter,
  type HTTPRouteMatch,
  type PlacedResource,
  type SecurityPolicy,
} from '@shoal/model';
import type { IRBackend, IRCluster, IRMatch, IRRoute, IRSecurity, IRStringMatch } from '../ir.js';
import type { Memo } from '../memo.js';
import { Names } from '../names.js';
import {
  clusterSettingsOf,
  findPolicy,
  rateLimitOf,
  resolveSecurity,
  retryOf,
} from './policies.js';
import { resolveBackends } from './refs.js';

export interface RouteContext {
  readonly cluster: string;
  /** The Gateway whose policies apply (undefined for mesh/proxyless routes). */
  readonly gateway?: { readonly ns: string; readonly name: string };
  /** Clusters the routes refer to, collected for CDS. */
  readonly clusters: Map<string, IRCluster>;
}

export interface RankedRoute {
  readonly route: IRRoute;
  readonly rank: readonly (number | string)[];
}

export function httpRouteIR(
  memo: Memo,
  ctx: RouteContext,
  placed: PlacedResource<HTTPRoute | GRPCRoute>,
): RankedRoute[] {
  const r = placed.resource;
  const ns = r.metadata.namespace ?? 'default';
  const out: RankedRoute[] = [];
  (r.spec.rules ?? []).forEach((rule, ri) => {
    const section = rule.name;
    const btp =
      findPolicy(memo, ctx.cluster, 'BackendTrafficPolicy', {
        kind: r.kind,
        ns,
        name: r.metadata.name,
        section,
      }) ??
      (ctx.gateway
        ? findPolicy(memo, ctx.cluster, 'BackendTrafficPolicy', { kind: 'Gateway', ...ctx.gateway })
        : undefined);
    const sp =
      findPolicy(memo, ctx.cluster, 'SecurityPolicy', {
        kind: r.kind,
        ns,
        name: r.metadata.name,
        section,
      }) ??
      (ctx.gateway
        ? findPolicy(memo, ctx.cluster, 'SecurityPolicy', { kind: 'Gateway', ...ctx.gateway })
        : undefined);
    const security: IRSecurity | undefined = sp
      ? resolveSecurity(memo, ctx.cluster, sp as PlacedResource<SecurityPolicy>)
      : undefined;
    const res = resolveBackends(memo, ctx.cluster, { kind: r.kind, ns }, rule.backendRefs ?? []);
    const settings = btp
      ? clusterSettingsOf(btp as PlacedResource<BackendTrafficPolicy>)
      : undefined;
    const backends: IRBackend[] = res.backends.map((b) => {
      const eds = Names.outbound(b.host, b.port);
      const name = settings
        ? Names.policyCluster(
            b.host,
            b.port,
            btp!.resource.metadata.namespace ?? ns,
            btp!.resource.metadata.name,
          )
        : eds;
      ctx.clusters.set(name, { name, eds, ...(settings ? { settings } : {}) });
      return { cluster: name, eds, weight: b.weight };
    });
    const filters = (rule.filters ?? []) as readonly HTTPRouteFilter[];
    const mirrors = filters.flatMap((f) => {
      if (!f.requestMirror) return [];
      const m = resolveBackends(memo, ctx.cluster, { kind: r.kind, ns }, [
        f.requestMirror.backendRef,
      ]).backends[0];
      if (!m) return [];
      const name = Names.outbound(m.host, m.port);
      ctx.clusters.set(name, { name, eds: name });
      const fr = f.requestMirror.fraction;
      return [
        {
          cluster: name,
          percent:
            f.requestMirror.percent ?? (fr ? (100 * fr.numerator) / (fr.denominator ?? 100) : 100),
        },
      ];
    });
    const redirect = filters.find((f) => f.requestRedirect)?.requestRedirect;
    const rewrite = filters.find((f) => f.urlRewrite)?.urlRewrite;
    const btpSpec = (btp?.resource as BackendTrafficPolicy | undefined)?.spec;
    const timeout =
      (rule as HTTPRoute['spec'] extends { rules?: readonly (infer R)[] } ? R : never).timeouts
        ?.request ?? btpSpec?.timeout?.http?.requestTimeout;
    const action: IRRoute['action'] = redirect
      ? {
          type: 'redirect',
          status: redirect.statusCode ?? 302,
          ...(redirect.scheme ? { scheme: redirect.scheme } : {}),
          ...(redirect.hostname ? { host: redirect.hostname } : {}),
          ...(redirect.port ? { port: redirect.port } : {}),
          ...(redirect.path
            ? {
                path:
                  redirect.path.type === 'ReplaceFullPath'
                    ? { full: redirect.path.replaceFullPath ?? '/' }
                    : { prefix: redirect.path.replacePrefixMatch ?? '/' },
              }
            : {}),
        }
      : security?.failClosed
        ? {
            type: 'direct',
            status: 500,
            body: `SecurityPolicy ${security.policy} is invalid: ${security.failClosed}`,
          }
        : backends.length === 0
          ? {
              type: 'direct',
              status: 500,
              body: res.problems.length
                ? res.problems.map((p) => p.message).join('; ')
                : 'no backends',
            }
          : { type: 'route', backends, invalidWeight: res.invalidWeight };
    const base = {
      action,
      mirrors,
      ...(filters.find((f) => f.requestHeaderModifier)
        ? { requestHeaders: filters.find((f) => f.requestHeaderModifier)!.requestHeaderModifier }
        : {}),
      ...(filters.find((f) => f.responseHeaderModifier)
        ? { responseHeaders: filters.find((f) => f.responseHeaderModifier)!.responseHeaderModifier }
        : {}),
      ...(rewrite
        ? {
            rewrite: {
              ...(rewrite.hostname ? { host: rewrite.hostname } : {}),
              ...(rewrite.path?.type === 'ReplaceFullPath'
                ? { fullPath: rewrite.path.replaceFullPath }
                : rewrite.path
                  ? { prefix: rewrite.path.replacePrefixMatch }
                  : {}),
            },
          }
        : {}),
      ...(timeout ? { timeoutMs: parseDuration(timeout) } : {}),
      ...(btpSpec && retryOf(btp!.resource as BackendTrafficPolicy)
        ? { retry: retryOf(btp!.resource as BackendTrafficPolicy) }
        : {}),
      ...(btpSpec && rateLimitOf(btp!.resource as BackendTrafficPolicy)
        ? { rateLimit: rateLimitOf(btp!.resource as BackendTrafficPolicy) }
        : {}),
      ...(security && !security.failClosed ? { security } : {}),
    };
    const matches =
      r.kind === 'GRPCRoute'
        ? ((rule.matches ?? [{}]) as GRPCRouteMatch[]).map(grpcMatch)
        : ((rule.matches ?? [{}]) as HTTPRouteMatch[]).map(httpMatch);
    (matches.length ? matches : [httpMatch({})]).forEach((m, mi) => {
      const route: IRRoute = {
        name: Names.routeName(r.kind, ns, r.metadata.name, ri, mi),
        match: m.match,
        ...base,
      };
      out.push({
        route,
        rank: [...m.rank, r.metadata.creationTimestamp ?? '~', `${ns}/${r.metadata.name}`, ri, mi],
      });
    });
  });
  return out;
}

/** Sort ranked routes by precedence; drop later routes whose match is identical (shadowed). */
export function orderRoutes(routes: readonly RankedRoute[]): IRRoute[] {
  const sorted = [...routes].sort((a, b) => compareRank(a.rank, b.rank));
  const seen = new Set<string>();
  const out: IRRoute[] = [];
  for (const r of sorted) {
    const key = JSON.stringify(r.route.match);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r.route);
  }
  return out;
}

function compareRank(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

const PATH_CLASS = { Exact: 0, Prefix: 1, RegularExpression: 2 } as const;

function strMatch(type: string | undefined, value: string): IRStringMatch {
  return { type: type === 'RegularExpression' ? 'RegularExpression' : 'Exact', value };
}

function rankOf(m: IRMatch, method: boolean): number[] {
  const p = m.path ?? { type: 'Prefix', value: '/' };
  // Lower sorts first: path class, then longer values, method, more headers, more query params.
  return [
    PATH_CLASS[p.type],
    -p.value.length,
    method ? 0 : 1,
    -m.headers.length,
    -m.queryParams.length,
  ];
}

function httpMatch(m: HTTPRouteMatch): { match: IRMatch; rank: number[] } {
  const type = m.path?.type ?? 'PathPrefix';
  const path: IRStringMatch = {
    type: type === 'PathPrefix' ? 'Prefix' : type,
    value: m.path?.value ?? '/',
  };
  const headers = [
    ...(m.headers ?? []).map((h) => ({
      name: h.name.toLowerCase(),
      match: strMatch(h.type, h.value),
    })),
  ];
  if (m.method) headers.push({ name: ':method', match: { type: 'Exact', value: m.method } });
  const match: IRMatch = {
    path,
    headers,
    queryParams: (m.queryParams ?? []).map((q) => ({
      name: q.name,
      match: strMatch(q.type, q.value),
    })),
  };
  return {
    match,
    rank: rankOf(
      { ...match, headers: m.headers ? match.headers.slice(0, m.headers.length) : [] },
      m.method !== undefined,
    ),
  };
}

function grpcMatch(m: GRPCRouteMatch): { match: IRMatch; rank: number[] } {
  const mm = m.method;
  let path: IRStringMatch | undefined;
  if (mm && (mm.type ?? 'Exact') === 'Exact') {
    if (mm.service && mm.method) path = { type: 'Exact', value: `/${mm.service}/${mm.method}` };
    else if (mm.service) path = { type: 'Prefix', value: `/${mm.service}/` };
    else if (mm.method) path = { type: 'RegularExpression', value: `/[^/]+/${mm.method}` };
  } else if (mm)
    path = {
      type: 'RegularExpression',
      value: `/${mm.service ?? '[^/]+'}/${mm.method ?? '[^/]+'}`,
    };
  const match: IRMatch = {
    ...(path ? { path } : { path: { type: 'Prefix', value: '/' } }),
    headers: (m.headers ?? []).map((h) => ({
      name: h.name.toLowerCase(),
      match: strMatch(h.type, h.value),
    })),
    queryParams: [],
  };
  return { match, rank: rankOf(match, false) };
}
