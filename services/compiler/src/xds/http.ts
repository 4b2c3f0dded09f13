/** IR virtual hosts → Envoy RouteConfiguration and the HttpConnectionManager that serves it. */
import type { IRRoute, IRSecurity, IRStringMatch, IRVirtualHost } from '../ir.js';
import { any, duration, FilterNames, T } from './encode.js';
import { rbacPolicies } from './rbac.js';

type Obj = Record<string, unknown>;

const REDIRECT_CODES: Record<number, string> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

function stringMatcher(m: IRStringMatch): Obj {
  if (m.type === 'RegularExpression') return { safeRegex: { regex: m.value } };
  if (m.type === 'Prefix') return { prefix: m.value };
  return { exact: m.value };
}

function headerValues(
  list: readonly { name: string; value: string }[] | undefined,
  append: boolean,
): Obj[] {
  return (list ?? []).map((h) => ({
    header: { key: h.name, value: h.value },
    appendAction: append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
  }));
}

function envoyRoute(r: IRRoute, grpcProxyless: boolean): Obj {
  const p = r.match.path ?? { type: 'Prefix', value: '/' };
  const match: Obj =
    p.type === 'Exact'
      ? { path: p.value }
      : p.type === 'Prefix'
        ? { prefix: p.value }
        : { safeRegex: { regex: p.value } };
  if (r.match.headers.length)
    match.headers = r.match.headers.map((h) => ({
      name: h.name,
      stringMatch: stringMatcher(h.match),
    }));
  if (r.match.queryParams.length)
    match.queryParameters = r.match.queryParams.map((q) => ({
      name: q.name,
      stringMatch: stringMatcher(q.match),
    }));
  const out: Obj = { name: r.name, match };
  const a = r.action;
  if (a.type === 'redirect') {
    out.redirect = {
      responseCode: REDIRECT_CODES[a.status] ?? 'FOUND',
      ...(a.scheme ? { schemeRedirect: a.scheme } : {}),
      ...(a.host ? { hostRedirect: a.host } : {}),
      ...(a.port ? { portRedirect: a.port } : {}),
      ...(a.path?.full !== undefined ? { pathRedirect: a.path.full } : {}),
      ...(a.path?.prefix !== undefined ? { prefixRewrite: a.path.prefix } : {}),
    };
  } else if (a.type === 'direct') {
    out.directResponse = { status: a.status, body: { inlineString: a.body } };
  } else {
    const route: Obj =
      a.backends.length === 1 && !grpcProxyless
        ? { cluster: a.backends[0]!.cluster }
        : {
            weightedClusters: {
              clusters: a.backends.map((b) => ({ name: b.cluster, weight: { value: b.weight } })),
            },
          };
    if (r.timeoutMs !== undefined) route.timeout = duration(r.timeoutMs);
    if (r.retry) {
      route.retryPolicy = {
        retryOn: r.retry.retryOn,
        numRetries: { value: r.retry.numRetries },
        ...(r.retry.statusCodes.length ? { retriableStatusCodes: r.retry.statusCodes } : {}),
        ...(r.retry.perTryTimeoutMs !== undefined
          ? { perTryTimeout: duration(r.retry.perTryTimeoutMs) }
          : {}),
        ...(r.retry.baseIntervalMs !== undefined
          ? {
              retryBackOff: {
                baseInterval: duration(r.retry.baseIntervalMs),
                ...(r.retry.maxIntervalMs !== undefined
                  ? { maxInterval: duration(r.retry.maxIntervalMs) }
                  : {}),
              },
            }
          : {}),
      };
    }
    if (r.mirrors.length)
      route.requestMirrorPolicies = r.mirrors.map((m) => ({
        cluster: m.cluster,
        runtimeFraction: {
          defaultValue: { numerator: Math.round(m.percent * 10000), denominator: 'MILLION' },
        },
      }));
    if (r.rewrite?.host) route.hostRewriteLiteral = r.rewrite.host;
    if (r.rewrite?.prefix !== undefined) route.prefixRewrite = r.rewrite.prefix;
    if (r.rewrite?.fullPath !== undefined)
      route.regexRewrite = { pattern: { regex: '^/.*$' }, substitution: r.rewrite.fullPath };
    out.route = route;
  }
  if (r.requestHeaders) {
    const add = [
      ...headerValues(r.requestHeaders.set, false),
      ...headerValues(r.requestHeaders.add, true),
    ];
    if (add.length) out.requestHeadersToAdd = add;
    if (r.requestHeaders.remove?.length) out.requestHeadersToRemove = [...r.requestHeaders.remove];
  }
  if (r.responseHeaders) {
    const add = [
      ...headerValues(r.responseHeaders.set, false),
      ...headerValues(r.responseHeaders.add, true),
    ];
    if (add.length) out.responseHeadersToAdd = add;
    if (r.responseHeaders.remove?.length)
      out.responseHeadersToRemove = [...r.responseHeaders.remove];
  }
  const perFilter = perFilterConfig(r);
  if (Object.keys(perFilter).length) out.typedPerFilterConfig = perFilter;
  return out;
}

function originMatcher(o: string): Obj {
  if (o === '*') return { safeRegex: { regex: '.*' } };
  if (o.includes('*'))
    return {
      safeRegex: {
        regex: o
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*'),
      },
    };
  return { exact: o };
}

function perFilterConfig(r: IRRoute): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const s = r.security;
  if (s?.spec.cors) {
    const c = s.spec.cors;
    out[FilterNames.cors] = any(T.corsPolicy, {
      allowOriginStringMatch: (c.allowOrigins ?? []).map(originMatcher),
      ...(c.allowMethods ? { allowMethods: c.allowMethods.join(',') } : {}),
      ...(c.allowHeaders ? { allowHeaders: c.allowHeaders.join(',') } : {}),
      ...(c.exposeHeaders ? { exposeHeaders: c.exposeHeaders.join(',') } : {}),
      ...(c.maxAge
        ? {
            maxAge: String(
              Math.floor(Number(c.maxAge.replace(/\D.*$/, '')) * unitSeconds(c.maxAge)),
            ),
          }
        : {}),
      ...(c.allowCredentials !== undefined
        ? { allowCredentials: { value: c.allowCredentials } }
        : {}),
    });
  }
  if (s && s.jwtProviders.length)
    out[FilterNames.jwt] = any(T.jwtPerRoute, { requirementName: s.policy });
  if (s?.htpasswd !== undefined)
    out[FilterNames.basicAuth] = any(T.basicAuthPerRoute, { users: { inlineString: s.htpasswd } });
  if (s?.spec.authorization) {
    const { deny, allow } = rbacPolicies(s);
    if (deny)
      out[FilterNames.rbacDeny] = any(T.rbacPerRoute, {
        rbac: { rules: { action: 'DENY', policies: deny } },
      });
    if (allow)
      out[FilterNames.rbacAllow] = any(T.rbacPerRoute, {
        rbac: { rules: { action: 'ALLOW', policies: allow } },
      });
  }
  if (r.rateLimit) {
    const full = {
      defaultValue: { numerator: 100, denominator: 'HUNDRED' },
      runtimeKey: 'local_rate_limit_enabled',
    };
    out[FilterNames.localRateLimit] = any(T.localRateLimit, {
      statPrefix: 'http_local_rate_limiter',
      tokenBucket: {
        maxTokens: r.rateLimit.requests,
        tokensPerFill: { value: r.rateLimit.requests },
        fillInterval: duration(r.rateLimit.unitSeconds * 1000),
      },
      filterEnabled: full,
      filterEnforced: { ...full, runtimeKey: 'local_rate_limit_enforced' },
    });
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function unitSeconds(d: string): number {
  return d.endsWith('ms') ? 0.001 : d.endsWith('h') ? 3600 : d.endsWith('m') ? 60 : 1;
}

export function routeConfiguration(
  name: string,
  vhosts: readonly IRVirtualHost[],
  grpcProxyless = false,
): Obj {
  return {
    name,
    virtualHosts: vhosts.map((v) => ({
      name: v.name,
      domains: [...v.domains],
      routes: v.routes.map((r) => envoyRoute(r, grpcProxyless)),
    })),
    ...(grpcProxyless ? {} : { ignorePortInHostMatching: true }),
  };
}

export interface HcmOptions {
  readonly statPrefix: string;
  readonly routeConfigName: string;
  readonly idleTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly xffNumTrustedHops?: number;
  readonly withUnderscoresAction?: string;
  /** L7 AuthorizationPolicies at a waypoint: listener-wide RBAC (deny first, then allow). */
  readonly rbac?: { readonly deny?: Obj; readonly allow?: Obj };
}

/** An HCM with RDS over ADS and only the HTTP filters its routes need (router last). */
export function httpConnectionManager(
  o: HcmOptions,
  vhosts: readonly IRVirtualHost[],
): { type_url: string; value: Uint8Array } {
  const routes = vhosts.flatMap((v) => v.routes);
  const sec = routes.map((r) => r.security).filter((s): s is IRSecurity => s !== undefined);
  const filters: Obj[] = [];
  const jwtPolicies = dedupe(sec.filter((s) => s.jwtProviders.length));
  if (jwtPolicies.length)
    filters.push({ name: FilterNames.jwt, typedConfig: any(T.jwt, jwtConfig(jwtPolicies)) });
  const basic = dedupe(sec.filter((s) => s.htpasswd !== undefined));
  if (basic.length)
    filters.push({
      name: FilterNames.basicAuth,
      disabled: true,
      typedConfig: any(T.basicAuth, { users: { inlineString: basic[0]!.htpasswd } }),
    });
  if (sec.some((s) => s.spec.cors))
    filters.push({ name: FilterNames.cors, typedConfig: any(T.cors, {}) });
  if (routes.some((r) => r.rateLimit))
    filters.push({
      name: FilterNames.localRateLimit,
      typedConfig: any(T.localRateLimit, { statPrefix: 'http_local_rate_limiter' }),
    });
  const rbacRoutes = sec.filter((s) => s.spec.authorization);
  if (o.rbac?.deny || rbacRoutes.length)
    filters.push({
      name: FilterNames.rbacDeny,
      typedConfig: any(
        T.rbac,
        o.rbac?.deny ? { rules: { action: 'DENY', policies: o.rbac.deny } } : {},
      ),
    });
  if (o.rbac?.allow || rbacRoutes.length)
    filters.push({
      name: FilterNames.rbacAllow,
      typedConfig: any(
        T.rbac,
        o.rbac?.allow ? { rules: { action: 'ALLOW', policies: o.rbac.allow } } : {},
      ),
    });
  filters.push({ name: FilterNames.router, typedConfig: any(T.router, {}) });
  return any(T.hcm, {
    statPrefix: o.statPrefix,
    codecType: 'AUTO',
    rds: {
      routeConfigName: o.routeConfigName,
      configSource: { ads: {}, resourceApiVersion: 'V3' },
    },
    httpFilters: filters,
    useRemoteAddress: { value: true },
    ...(o.idleTimeoutMs !== undefined
      ? { commonHttpProtocolOptions: { idleTimeout: duration(o.idleTimeoutMs) } }
      : {}),
    ...(o.requestTimeoutMs !== undefined ? { requestTimeout: duration(o.requestTimeoutMs) } : {}),
    ...(o.xffNumTrustedHops !== undefined ? { xffNumTrustedHops: o.xffNumTrustedHops } : {}),
    ...(o.withUnderscoresAction
      ? { commonHttpProtocolOptions: { headersWithUnderscoresAction: o.withUnderscoresAction } }
      : {}),
  });
}

/** The minimal HCM a proxyless gRPC client accepts: RDS over ADS, router only. */
export function proxylessHcm(routeConfigName: string): { type_url: string; value: Uint8Array } {
  return any(T.hcm, {
    rds: { routeConfigName, configSource: { ads: {}, resourceApiVersion: 'V3' } },
    httpFilters: [{ name: FilterNames.router, typedConfig: any(T.router, {}) }],
  });
}

function dedupe(list: IRSecurity[]): IRSecurity[] {
  const m = new Map<string, IRSecurity>();
  for (const s of list) m.set(s.policy, s);
  return [...m.values()].sort((a, b) => (a.policy < b.policy ? -1 : 1));
}

function jwtConfig(policies: readonly IRSecurity[]): Obj {
  const providers: Record<string, Obj> = {};
  const requirementMap: Record<string, Obj> = {};
  for (const s of policies) {
    const names = s.jwtProviders.map((p) => `${s.policy}/${p.name}`);
    s.jwtProviders.forEach((p, i) => {
      const uri = p.remoteJWKS?.uri ?? '';
      const keys = p.localJWKS?.inline
        ? { localJwks: { inlineString: p.localJWKS.inline } }
        : {
            remoteJwks: {
              httpUri: { uri, cluster: jwksCluster(uri), timeout: duration(5000) },
              cacheDuration: duration(300_000),
            },
          };
      providers[names[i]!] = {
        ...(p.issuer ? { issuer: p.issuer } : {}),
        ...(p.audiences ? { audiences: [...p.audiences] } : {}),
        ...keys,
        forward: true,
        payloadInMetadata: p.name,
        ...(p.claimToHeaders
          ? {
              claimToHeaders: p.claimToHeaders.map((c) => ({
                headerName: c.header,
                claimName: c.claim,
              })),
            }
          : {}),
      };
    });
    const reqs = names.map((providerName) => ({ providerName }));
    if (s.spec.jwt?.optional) reqs.push({ allowMissing: {} } as never);
    requirementMap[s.policy] =
      reqs.length === 1 ? reqs[0]! : { requiresAny: { requirements: reqs } };
  }
  return { providers, requirementMap };
}

/** Name of the (LOGICAL_DNS) Cluster that fetches a remote JWKS. */
export function jwksCluster(uri: string): string {
  const u = new URL(uri);
  return `jwks|${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
}
