/**
 * The compiled L7 view shared by waypoints and gateways: Envoy v3 Listener / RouteConfiguration /
 * Cluster / ClusterLoadAssignment / Secret resources turned into plain immutable data the request
 * path can use without touching protobuf. Built by compile.ts; read by router.ts, filters.ts,
 * proxy.ts and the gateway's TLS termination.
 */
import type { JWTVerifyGetKey } from 'jose';
import type { Cidr } from '../l4/model.js';

export type StrMatcher =
  | { readonly kind: 'exact'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'prefix'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'suffix'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'contains'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'regex'; readonly re: RegExp };

export interface HeaderMatcher {
  readonly name: string;
  /** undefined: presence only. */
  readonly match?: StrMatcher;
  readonly present?: boolean;
  readonly invert: boolean;
}

export interface QueryMatcher {
  readonly name: string;
  readonly match?: StrMatcher;
}

export type PathMatch =
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'regex'; readonly re: RegExp }
  | { readonly kind: 'separated'; readonly value: string };

export interface RouteMatch {
  readonly path: PathMatch;
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatcher[];
  readonly query: readonly QueryMatcher[];
  /** gRPC-only match (`grpc: {}`): content-type application/grpc*. */
  readonly grpc: boolean;
}

export interface HeaderMods {
  readonly add: readonly {
    readonly key: string;
    readonly value: string;
    readonly action: 'append' | 'addIfAbsent' | 'overwrite' | 'overwriteIfExists';
  }[];
  readonly remove: readonly string[];
}

export interface RetryPolicy {
  readonly on: ReadonlySet<string>;
  readonly numRetries: number;
  readonly perTryTimeoutMs: number;
  readonly statusCodes: ReadonlySet<number>;
  readonly backoffMs: number;
}

export interface Mirror {
  readonly cluster: string;
  /** 0..1 */
  readonly fraction: number;
}

export type RouteAction =
  | {
      readonly kind: 'route';
      readonly clusters: readonly { readonly name: string; readonly weight: number }[];
      readonly totalWeight: number;
      readonly timeoutMs: number;
      readonly retry?: RetryPolicy;
      readonly prefixRewrite?: string;
      readonly regexRewrite?: { readonly re: RegExp; readonly substitution: string };
      readonly hostRewrite?: string;
      readonly mirrors: readonly Mirror[];
    }
  | {
      readonly kind: 'redirect';
      readonly status: number;
      readonly scheme?: string;
      readonly host?: string;
      readonly port?: number;
      readonly path?: string;
      readonly prefixRewrite?: string;
      readonly stripQuery: boolean;
    }
  | { readonly kind: 'direct'; readonly status: number; readonly body: string };

/** Per-filter config by the filter's name in the listener's http_filters (decoded, compiled). */
export type PerFilter = ReadonlyMap<string, FilterOverride>;

export interface Route {
  readonly name: string;
  readonly match: RouteMatch;
  readonly action: RouteAction;
  readonly requestHeaders: HeaderMods;
  readonly responseHeaders: HeaderMods;
  readonly perFilter: PerFilter;
}

export interface VirtualHost {
  readonly name: string;
  readonly domains: readonly string[];
  readonly routes: readonly Route[];
  readonly requestHeaders: HeaderMods;
  readonly responseHeaders: HeaderMods;
  readonly perFilter: PerFilter;
}

export interface RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  readonly ignorePort: boolean;
}

// ---- HTTP filters --------------------------------------------------------------------------

export type JwtRequirement =
  | { readonly kind: 'provider'; readonly provider: string }
  | { readonly kind: 'any'; readonly of: readonly JwtRequirement[] }
  | { readonly kind: 'all'; readonly of: readonly JwtRequirement[] }
  | { readonly kind: 'allowMissing' }
  | { readonly kind: 'allowMissingOrFailed' };

export interface JwtProvider {
  readonly name: string;
  readonly issuer?: string;
  readonly audiences: readonly string[];
  readonly keys: JWTVerifyGetKey;
  readonly forward: boolean;
  readonly fromHeaders: readonly { readonly name: string; readonly prefix: string }[];
  readonly payloadInMetadata?: string;
  readonly claimToHeaders: readonly { readonly header: string; readonly claim: string }[];
}

export interface JwtFilter {
  readonly kind: 'jwt';
  readonly providers: ReadonlyMap<string, JwtProvider>;
  readonly requirements: ReadonlyMap<string, JwtRequirement>;
  readonly rules: readonly { readonly match: RouteMatch; readonly requires?: JwtRequirement }[];
}

export type RbacPermission =
  | { readonly kind: 'any' }
  | { readonly kind: 'and' | 'or'; readonly of: readonly RbacPermission[] }
  | { readonly kind: 'not'; readonly of: RbacPermission }
  | { readonly kind: 'header'; readonly header: HeaderMatcher }
  | { readonly kind: 'path'; readonly match: StrMatcher }
  | { readonly kind: 'destinationPort'; readonly port: number }
  | { readonly kind: 'destinationIp'; readonly cidr: Cidr };

export type RbacPrincipal =
  | { readonly kind: 'any' }
  | { readonly kind: 'and' | 'or'; readonly of: readonly RbacPrincipal[] }
  | { readonly kind: 'not'; readonly of: RbacPrincipal }
  | { readonly kind: 'authenticated'; readonly match?: StrMatcher }
  | { readonly kind: 'sourceIp'; readonly cidr: Cidr }
  | { readonly kind: 'header'; readonly header: HeaderMatcher }
  | { readonly kind: 'path'; readonly match: StrMatcher }
  | {
      readonly kind: 'metadata';
      readonly filter: string;
      readonly path: readonly string[];
      /** undefined: presence. */
      readonly match?: StrMatcher;
      readonly invert: boolean;
    };

export interface RbacRules {
  readonly action: 'ALLOW' | 'DENY' | 'LOG';
  readonly policies: readonly {
    readonly name: string;
    readonly permissions: readonly RbacPermission[];
    readonly principals: readonly RbacPrincipal[];
  }[];
}

export interface TokenBucketSpec {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
  readonly status: number;
}

export interface CorsPolicy {
  readonly origins: readonly StrMatcher[];
  readonly methods: string;
  readonly headers: string;
  readonly expose: string;
  readonly maxAge: string;
  readonly credentials: boolean;
}

export type HttpFilter =
  | JwtFilter
  | { readonly kind: 'basicAuth'; readonly users?: ReadonlyMap<string, string> }
  | { readonly kind: 'cors' }
  | { readonly kind: 'rateLimit'; readonly bucket?: TokenBucketSpec }
  | { readonly kind: 'rbac'; readonly rules?: RbacRules };

/** What a route or virtual host may override per filter. */
export type FilterOverride =
  | { readonly kind: 'disabled' }
  | { readonly kind: 'jwt'; readonly requirement: string }
  | { readonly kind: 'basicAuth'; readonly users: ReadonlyMap<string, string> }
  | { readonly kind: 'cors'; readonly policy: CorsPolicy }
  | { readonly kind: 'rateLimit'; readonly bucket: TokenBucketSpec }
  | { readonly kind: 'rbac'; readonly rules?: RbacRules };

export interface NamedFilter {
  readonly name: string;
  /** Envoy's `disabled: true`: off unless a route's per-filter config turns it on. */
  readonly disabled: boolean;
  readonly filter: HttpFilter;
}

/** A listener's filter chain: which connections it takes (SNI) and how TLS is terminated. */
export interface FilterChain {
  readonly name: string;
  /** filter_chain_match.server_names; empty: any (the fallback chain). */
  readonly serverNames: readonly string[];
  /** SDS secret names of the DownstreamTlsContext; undefined: plaintext. */
  readonly tlsSecrets?: readonly string[];
  readonly alpn: readonly string[];
}

export interface L7Listener {
  readonly name: string;
  /** socket_address.port_value (gateways listen on <workload ip>:<port>). */
  readonly port: number;
  /** HTTP filter chains (all share the first chain's HttpConnectionManager, as the compiler
   * emits one per port). */
  readonly chains: readonly FilterChain[];
  /** RDS route config name, or the inline one. */
  readonly routeName?: string;
  readonly inlineRoutes?: RouteTable;
  readonly filters: readonly NamedFilter[];
}

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  readonly weight: number;
}

export interface L7Cluster {
  readonly name: string;
  readonly connectTimeoutMs: number;
  /** The ClusterLoadAssignment name (EDS service name) or the cluster's inline assignment. */
  readonly edsName?: string;
  readonly inlineEndpoints?: readonly Endpoint[];
}

/** A TLS certificate from an SDS Secret (validated: the key matches the chain). */
export interface TlsSecret {
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Every L7 resource this node holds, compiled. Immutable; replaced whole on each push. */
export interface L7Snapshot {
  readonly listeners: ReadonlyMap<string, L7Listener>;
  readonly routes: ReadonlyMap<string, RouteTable>;
  readonly clusters: ReadonlyMap<string, L7Cluster>;
  readonly endpoints: ReadonlyMap<string, readonly Endpoint[]>;
  readonly secrets: ReadonlyMap<string, TlsSecret>;
}

export const EMPTY_L7: L7Snapshot = {
  listeners: new Map(),
  routes: new Map(),
  clusters: new Map(),
  endpoints: new Map(),
  secrets: new Map(),
};

/** Endpoints of a cluster, from its EDS assignment or its inline one. */
export function clusterEndpoints(s: L7Snapshot, cluster: string): readonly Endpoint[] {
  const c = s.clusters.get(cluster);
  if (!c) return [];
  return c.inlineEndpoints ?? s.endpoints.get(c.edsName ?? c.name) ?? [];
}

/** Listener name the compiler gives a waypoint (see services/compiler names.ts). */
export function waypointListenerName(namespace: string, gateway: string, port = 15008): string {
  return `waypoint/${namespace}/${gateway}/${port}`;
}

/** Listener name prefix the compiler gives a Gateway's ports: `gateway/<ns>/<gateway>/<port>`. */
export function gatewayListenerPrefix(namespace: string, gateway: string): string {
  return `gateway/${namespace}/${gateway}/`;
}

/** `outbound|<port>||<name>.<ns>.svc.<domain>[|policy]` → its service's stats key
 * `<ns>/<host>` (as the L4 stats key services); undefined for other cluster names. */
export function clusterService(cluster: string): string | undefined {
  const host = /^outbound\|\d+\|[^|]*\|([^|]+)/.exec(cluster)?.[1];
  const ns = host && /^[^.]+\.([^.]+)\.svc\./.exec(host)?.[1];
  return host && ns ? `${ns}/${host}` : undefined;
}
