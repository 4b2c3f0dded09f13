/**
 * Test helpers: Envoy v3 L7 resources for a waypoint or a gateway, encoded with @shoal/proto the way the
 * compiler emits them (listener `waypoint/<ns>/<gw>/15008` with RDS of the same name, EDS
 * clusters named `outbound|<port>||<host>`). Enum fields take their numeric values.
 */
import { TypeUrls, encodeMessage } from '@shoal/proto';

const T = 'type.googleapis.com/envoy.extensions.';
export const L7Types = {
  hcm: `${T}filters.network.http_connection_manager.v3.HttpConnectionManager`,
  router: `${T}filters.http.router.v3.Router`,
  jwt: `${T}filters.http.jwt_authn.v3.JwtAuthentication`,
  jwtPerRoute: `${T}filters.http.jwt_authn.v3.PerRouteConfig`,
  cors: `${T}filters.http.cors.v3.Cors`,
  corsPolicy: `${T}filters.http.cors.v3.CorsPolicy`,
  rateLimit: `${T}filters.http.local_ratelimit.v3.LocalRateLimit`,
  rbac: `${T}filters.http.rbac.v3.RBAC`,
  rbacPerRoute: `${T}filters.http.rbac.v3.RBACPerRoute`,
  basicAuth: `${T}filters.http.basic_auth.v3.BasicAuth`,
  basicAuthPerRoute: `${T}filters.http.basic_auth.v3.BasicAuthPerRoute`,
  downstreamTls: `${T}transport_sockets.tls.v3.DownstreamTlsContext`,
} as const;

type Obj = Record<string, unknown>;

export function any(typeUrl: string, obj: Obj = {}): { type_url: string; value: Uint8Array } {
  return { type_url: typeUrl, value: encodeMessage(typeUrl, obj) };
}

export interface NamedBytes {
  readonly name: string;
  readonly value: Uint8Array;
}

/** A waypoint listener; `filters` are [name, typeUrl, config, disabled?] before the router. */
export function waypointListener(
  name: string,
  filters: readonly (readonly [string, string, Obj, boolean?])[] = [],
): NamedBytes {
  const hcm = encodeMessage(L7Types.hcm, {
    statPrefix: name,
    rds: { configSource: { ads: {} }, routeConfigName: name },
    httpFilters: [
      ...filters.map(([n, t, c, disabled]) => ({
        name: n,
        typedConfig: any(t, c),
        ...(disabled ? { disabled: true } : {}),
      })),
      { name: 'envoy.filters.http.router', typedConfig: any(L7Types.router) },
    ],
  });
  return {
    name,
    value: encodeMessage(TypeUrls.listener, {
      name,
      address: { socketAddress: { address: '0.0.0.0', portValue: 15008 } },
      filterChains: [
        {
          name: 'hbone',
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typedConfig: { type_url: L7Types.hcm, value: hcm },
            },
          ],
        },
      ],
    }),
  };
}

/** A gateway listener `gateway/<ns>/<gw>/<port>`: one HCM (RDS of the same name) shared by its
 * filter chains, as the compiler emits; a chain with `secret` terminates TLS (SDS). */
export function gatewayListener(
  name: string,
  port: number,
  chains: readonly { name: string; serverNames?: string[]; secret?: string }[],
  filters: readonly (readonly [string, string, Obj, boolean?])[] = [],
): NamedBytes {
  const hcm = encodeMessage(L7Types.hcm, {
    statPrefix: name,
    rds: { configSource: { ads: {} }, routeConfigName: name },
    httpFilters: [
      ...filters.map(([n, t, c, disabled]) => ({
        name: n,
        typedConfig: any(t, c),
        ...(disabled ? { disabled: true } : {}),
      })),
      { name: 'envoy.filters.http.router', typedConfig: any(L7Types.router) },
    ],
  });
  return {
    name,
    value: encodeMessage(TypeUrls.listener, {
      name,
      address: { socketAddress: { address: '0.0.0.0', portValue: port } },
      filterChains: chains.map((c) => ({
        name: c.name,
        ...(c.serverNames ? { filterChainMatch: { serverNames: c.serverNames } } : {}),
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: { type_url: L7Types.hcm, value: hcm },
          },
        ],
        ...(c.secret
          ? {
              transportSocket: {
                name: 'envoy.transport_sockets.tls',
                typedConfig: any(L7Types.downstreamTls, {
                  commonTlsContext: {
                    tlsCertificateSdsSecretConfigs: [
                      { name: c.secret, sdsConfig: { ads: {}, resourceApiVersion: 1 } },
                    ],
                    alpnProtocols: ['h2', 'http/1.1'],
                  },
                }),
              },
            }
          : {}),
      })),
    }),
  };
}

/** An SDS Secret with an inline TLS certificate. */
export function tlsSecret(name: string, certPem: string, keyPem: string): NamedBytes {
  return {
    name,
    value: encodeMessage(TypeUrls.secret, {
      name,
      tlsCertificate: {
        certificateChain: { inlineString: certPem },
        privateKey: { inlineString: keyPem },
      },
    }),
  };
}

export function routeConfig(
  name: string,
  virtualHosts: readonly { name: string; domains: string[]; routes: Obj[] }[],
): NamedBytes {
  return { name, value: encodeMessage(TypeUrls.route, { name, virtualHosts }) };
}

export function edsCluster(name: string): NamedBytes {
  return {
    name,
    value: encodeMessage(TypeUrls.cluster, {
      name,
      type: 3,
      edsClusterConfig: { edsConfig: { ads: {} }, serviceName: name },
      connectTimeout: { seconds: 5 },
    }),
  };
}

export function assignment(
  name: string,
  endpoints: readonly (readonly [string, number])[],
): NamedBytes {
  return {
    name,
    value: encodeMessage(TypeUrls.endpoint, {
      clusterName: name,
      endpoints: [
        {
          lbEndpoints: endpoints.map(([ip, port]) => ({
            endpoint: { address: { socketAddress: { address: ip, portValue: port } } },
            healthStatus: 1,
          })),
        },
      ],
    }),
  };
}

/** A route entry: `match` (RouteMatch), `route` (RouteAction) or `redirect`, plus extras. */
export function route(name: string, match: Obj, action: Obj, extra: Obj = {}): Obj {
  return { name, match, ...action, ...extra };
}
