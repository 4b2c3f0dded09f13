/**
 * Pure: the node's L7 xDS resources (name → bytes per type) → an L7Snapshot, or a
 * ConfigRejectedError naming the resource and field that cannot be applied. The xDS client
 * NACKs with that message and the previous snapshot keeps serving.
 *
 * Like Envoy, references between resources (a listener's RDS name, a route's cluster, a
 * cluster's EDS name) may dangle for a while: pushes arrive type by type. A dangling reference
 * answers 503 / 404 at request time; only a resource that is invalid in itself is rejected.
 */
import { createSecureContext } from 'node:tls';
import { TypeUrls, decodeMessage } from '@shoal/proto';
import { ConfigRejectedError } from '../errors.js';
import { compileFilter, compileOverride } from './compile-filters.js';
import {
  arr,
  at,
  durationMs,
  headerMods,
  obj,
  regex,
  routeMatch,
  u32,
  unpackAny,
  type Raw,
} from './decode.js';
import type {
  Endpoint,
  FilterChain,
  FilterOverride,
  L7Cluster,
  L7Listener,
  L7Snapshot,
  NamedFilter,
  Route,
  RouteAction,
  RouteTable,
  TlsSecret,
} from './model.js';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const DOWNSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};
const DENOMINATORS: Record<string, number> = {
  HUNDRED: 100,
  TEN_THOUSAND: 10_000,
  MILLION: 1_000_000,
};
const RETRY_ON = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

function perFilter(raw: unknown): Map<string, FilterOverride> {
  const out = new Map<string, FilterOverride>();
  for (const [name, v] of Object.entries(obj(raw) ?? {}))
    out.set(
      name,
      at(`typedPerFilterConfig.${name}`, () => compileOverride(v)),
    );
  return out;
}

function action(r: Raw): RouteAction {
  const ra = obj(r.route);
  if (ra) {
    let clusters: { name: string; weight: number }[];
    if (typeof ra.cluster === 'string' && ra.cluster) clusters = [{ name: ra.cluster, weight: 1 }];
    else if (obj(ra.weightedClusters)) {
      clusters = arr(obj(ra.weightedClusters)!.clusters).map((c) => ({
        name: String(c.name ?? ''),
        weight: u32(c.weight) ?? 0,
      }));
      if (clusters.length === 0 || clusters.some((c) => !c.name))
        throw new Error('weightedClusters needs named clusters');
    } else if (ra.clusterHeader || ra.clusterSpecifierPlugin)
      throw new Error('cluster_header / cluster_specifier_plugin are not supported');
    else throw new Error('route action names no cluster');
    const totalWeight = clusters.reduce((a, c) => a + c.weight, 0);
    if (totalWeight <= 0) throw new Error('weighted clusters sum to 0');
    const rp = obj(ra.retryPolicy);
    const retry = rp
      ? at('retryPolicy', () => {
          const on = new Set(
            String(rp.retryOn ?? '')
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          );
          for (const o of on) if (!RETRY_ON.has(o)) throw new Error(`unknown retry_on "${o}"`);
          return {
            on,
            numRetries: u32(rp.numRetries) ?? 1,
            perTryTimeoutMs: durationMs(rp.perTryTimeout) ?? 0,
            statusCodes: new Set(arr<number>(rp.retriableStatusCodes).map(Number)),
            backoffMs: durationMs(obj(rp.retryBackOff)?.baseInterval) ?? 25,
          };
        })
      : undefined;
    const rr = obj(ra.regexRewrite);
    return {
      kind: 'route',
      clusters,
      totalWeight,
      timeoutMs: durationMs(ra.timeout) ?? 15_000,
      ...(retry ? { retry } : {}),
      ...(typeof ra.prefixRewrite === 'string' && ra.prefixRewrite
        ? { prefixRewrite: ra.prefixRewrite }
        : {}),
      ...(rr
        ? {
            regexRewrite: at('regexRewrite', () => ({
              re: regex(obj(rr.pattern)?.regex, 'g', false),
              substitution: String(rr.substitution ?? '').replace(/\\(\d)/g, '$$$1'),
            })),
          }
        : {}),
      ...(typeof ra.hostRewriteLiteral === 'string' && ra.hostRewriteLiteral
        ? { hostRewrite: ra.hostRewriteLiteral }
        : {}),
      mirrors: arr(ra.requestMirrorPolicies).map((m) => {
        const f = obj(obj(m.runtimeFraction)?.defaultValue);
        const den = DENOMINATORS[String(f?.denominator ?? 'HUNDRED')] ?? 100;
        return {
          cluster: String(m.cluster ?? ''),
          fraction: f ? Number(f.numerator ?? 0) / den : 1,
        };
      }),
    };
  }
  const rd = obj(r.redirect);
  if (rd) {
    const status = REDIRECT_CODES[String(rd.responseCode ?? 'MOVED_PERMANENTLY')];
    if (!status) throw new Error(`unknown redirect response_code ${String(rd.responseCode)}`);
    return {
      kind: 'redirect',
      status,
      ...(rd.httpsRedirect === true
        ? { scheme: 'https' }
        : typeof rd.schemeRedirect === 'string'
          ? { scheme: rd.schemeRedirect }
          : {}),
      ...(typeof rd.hostRedirect === 'string' && rd.hostRedirect ? { host: rd.hostRedirect } : {}),
      ...(rd.portRedirect ? { port: Number(rd.portRedirect) } : {}),
      ...(typeof rd.pathRedirect === 'string' && rd.pathRedirect ? { path: rd.pathRedirect } : {}),
      ...(typeof rd.prefixRewrite === 'string' ? { prefixRewrite: rd.prefixRewrite } : {}),
      stripQuery: rd.stripQuery === true,
    };
  }
  const dr = obj(r.directResponse);
  if (dr) {
    const status = Number(dr.status ?? 0);
    if (status < 200 || status > 599) throw new Error(`direct response status ${status}`);
    return { kind: 'direct', status, body: String(obj(dr.body)?.inlineString ?? '') };
  }
  throw new Error('route has no route, redirect or direct_response action');
}

export function compileRouteTable(name: string, m: Raw): RouteTable {
  return {
    name,
    ignorePort: m.ignorePortInHostMatching === true,
    virtualHosts: arr(m.virtualHosts).map((vh, i) =>
      at(`virtualHosts[${i}]`, () => {
        const domains = arr<string>(vh.domains).map((d) => d.toLowerCase());
        if (domains.length === 0) throw new Error('virtual host has no domains');
        return {
          name: String(vh.name ?? ''),
          domains,
          routes: arr(vh.routes).map((r, j): Route =>
            at(`routes[${j}]`, () => ({
              name: String(r.name ?? `${i}/${j}`),
              match: at('match', () => routeMatch(obj(r.match) ?? {})),
              action: action(r),
              requestHeaders: headerMods(r.requestHeadersToAdd, r.requestHeadersToRemove),
              responseHeaders: headerMods(r.responseHeadersToAdd, r.responseHeadersToRemove),
              perFilter: perFilter(r.typedPerFilterConfig),
            })),
          ),
          requestHeaders: headerMods(vh.requestHeadersToAdd, vh.requestHeadersToRemove),
          responseHeaders: headerMods(vh.responseHeadersToAdd, vh.responseHeadersToRemove),
          perFilter: perFilter(vh.typedPerFilterConfig),
        };
      }),
    ),
  };
}

/** An HTTP filter chain's SNI match and TLS termination (SDS secrets only). */
function filterChain(c: Raw, i: number): FilterChain {
  return at(`filterChains[${i}]`, () => {
    const serverNames = arr<string>(obj(c.filterChainMatch)?.serverNames).map((n) =>
      n.toLowerCase(),
    );
    const ts = obj(c.transportSocket);
    const base = { name: String(c.name ?? i), serverNames };
    if (!ts) return { ...base, alpn: [] };
    const tls = at('transportSocket', () => unpackAny(ts.typedConfig));
    if (tls?.type !== DOWNSTREAM_TLS)
      throw new Error(`transport socket ${tls?.type ?? '(none)'} is not supported`);
    if (obj(tls.msg.requireClientCertificate)?.value === true)
      throw new Error('require_client_certificate (frontend mTLS) is not supported');
    const ctc = obj(tls.msg.commonTlsContext) ?? {};
    if (arr(ctc.tlsCertificates).length > 0)
      throw new Error('inline tls_certificates are not supported: reference an SDS secret');
    const tlsSecrets = arr(ctc.tlsCertificateSdsSecretConfigs).map((x) => String(x.name ?? ''));
    if (tlsSecrets.length === 0 || tlsSecrets.some((n) => !n))
      throw new Error('TLS filter chain names no SDS certificate secret');
    return { ...base, tlsSecrets, alpn: arr<string>(ctc.alpnProtocols) };
  });
}

function compileListener(name: string, m: Raw): L7Listener | undefined {
  if (obj(m.apiListener)) return undefined; // proxyless gRPC clients' listener: not ours
  const chains = arr(m.filterChains);
  const hcm = chains
    .flatMap((c) => arr(c.filters))
    .map((f) => unpackAny(f.typedConfig))
    .find((a) => a?.type === HCM)?.msg;
  if (!hcm) {
    const tcp = chains
      .flatMap((c) => arr(c.filters))
      .some((f) => unpackAny(f.typedConfig)?.type === TCP_PROXY);
    if (tcp) return undefined; // a TCP route on a gateway: the L4 path, nothing to compile here
    throw new Error('no http_connection_manager filter');
  }
  const filters: NamedFilter[] = [];
  const raw = arr(hcm.httpFilters);
  raw.forEach((f, i) =>
    at(`httpFilters[${i}] (${String(f.name)})`, () => {
      const a = unpackAny(f.typedConfig);
      if (!a) throw new Error('no typed_config');
      const filter = compileFilter(a.type, a.msg);
      if (!filter) {
        if (i !== raw.length - 1) throw new Error('the router must be the last filter');
        return;
      }
      filters.push({ name: String(f.name ?? ''), disabled: f.disabled === true, filter });
    }),
  );
  if (
    raw.length === 0 ||
    unpackAny(raw.at(-1)?.typedConfig)?.type !== `envoy.extensions.filters.http.router.v3.Router`
  )
    throw new Error('http_filters must end with envoy.filters.http.router');
  const http = chains
    .map((c, i) => [c, i] as const)
    .filter(([c]) => arr(c.filters).some((f) => unpackAny(f.typedConfig)?.type === HCM))
    .map(([c, i]) => filterChain(c, i));
  if (new Set(http.map((c) => c.tlsSecrets !== undefined)).size > 1)
    throw new Error('filter chains mix TLS and plaintext on one port: not supported');
  const port = Number(obj(obj(m.address)?.socketAddress)?.portValue ?? 0);
  const base = { name, port, chains: http, filters };
  const rds = obj(hcm.rds);
  if (rds) return { ...base, routeName: String(rds.routeConfigName ?? '') };
  const inline = obj(hcm.routeConfig);
  if (inline)
    return { ...base, inlineRoutes: at('routeConfig', () => compileRouteTable(name, inline)) };
  throw new Error('http_connection_manager has neither rds nor route_config');
}

function endpointsOf(m: Raw): Endpoint[] {
  return arr(m.endpoints).flatMap((loc) =>
    arr(loc.lbEndpoints)
      .filter((e) => {
        const h = String(e.healthStatus ?? 'UNKNOWN');
        return h === 'UNKNOWN' || h === 'HEALTHY';
      })
      .map((e) => {
        const sa = obj(obj(obj(e.endpoint)?.address)?.socketAddress);
        const ip = String(sa?.address ?? '');
        const port = Number(sa?.portValue ?? 0);
        if (!ip || port <= 0 || port > 65535) throw new Error(`bad endpoint address ${ip}:${port}`);
        return { ip, port, weight: u32(e.loadBalancingWeight) ?? 1 };
      }),
  );
}

function compileCluster(name: string, m: Raw): L7Cluster {
  const type = String(m.type ?? 'STATIC');
  const base = { name, connectTimeoutMs: durationMs(m.connectTimeout) ?? 10_000 };
  if (type === 'EDS')
    return { ...base, edsName: String(obj(m.edsClusterConfig)?.serviceName || name) };
  if (type === 'STATIC' || type === 'STRICT_DNS' || type === 'LOGICAL_DNS')
    return {
      ...base,
      inlineEndpoints: at('loadAssignment', () => endpointsOf(obj(m.loadAssignment) ?? {})),
    };
  throw new Error(`unsupported cluster type ${type}`);
}

/** A Secret with a tls_certificate: inline PEM, checked by building a TLS context from it. */
function compileSecret(name: string, m: Raw): TlsSecret | undefined {
  const tc = obj(m.tlsCertificate);
  if (!tc) return undefined; // validation contexts etc.: nothing the data plane uses
  const pem = (field: string) => {
    const ds = obj(tc[field]);
    if (typeof ds?.inlineString === 'string') return ds.inlineString;
    if (ds?.inlineBytes instanceof Uint8Array) return Buffer.from(ds.inlineBytes).toString();
    throw new Error(`tls_certificate.${field} must be inline (inline_string or inline_bytes)`);
  };
  const certPem = pem('certificateChain');
  const keyPem = pem('privateKey');
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    throw new Error(`tls_certificate is not a usable key pair: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { name, certPem, keyPem };
}

type Resources = ReadonlyMap<string, Uint8Array>;

function each<T>(
  typeUrl: string,
  items: Resources,
  f: (name: string, m: Raw) => T | undefined,
): Map<string, T> {
  const out = new Map<string, T>();
  for (const [name, bytes] of items) {
    try {
      const v = f(name, decodeMessage(typeUrl, bytes));
      if (v !== undefined) out.set(name, v);
    } catch (err) {
      throw new ConfigRejectedError(typeUrl, name, (err as Error).message, err);
    }
  }
  return out;
}

/** Compile every L7 resource the node holds into one snapshot. */
export function compileL7(r: {
  listeners: Resources;
  routes: Resources;
  clusters: Resources;
  endpoints: Resources;
  secrets?: Resources;
}): L7Snapshot {
  const listeners = new Map<string, L7Listener>();
  for (const [n, l] of each(TypeUrls.listener, r.listeners, compileListener))
    if (l) listeners.set(n, l);
  return {
    listeners,
    routes: each(TypeUrls.route, r.routes, compileRouteTable),
    clusters: each(TypeUrls.cluster, r.clusters, compileCluster),
    endpoints: each(TypeUrls.endpoint, r.endpoints, (_n, m) => endpointsOf(m)),
    secrets: each(TypeUrls.secret, r.secrets ?? new Map(), compileSecret),
  };
}
