/** Plain objects (camelCase protobuf JSON-ish) → encoded xDS resources with content versions. */
import { messageType, type XdsResource } from '@shoal/proto';
import { digest } from '../hash.js';

export function encode(typeUrl: string, obj: Record<string, unknown>): Uint8Array {
  const type = messageType(typeUrl);
  return type.encode(type.fromObject(obj)).finish();
}

export function resource(typeUrl: string, name: string, obj: Record<string, unknown>): XdsResource {
  const value = encode(typeUrl, obj);
  return { typeUrl, name, version: digest(value), value };
}

/**
 * A google.protobuf.Any for protobufjs. Its bundled Any declares the field as `type_url` (not
 * camelCased like the loaded .proto files), so `typeUrl` would be silently dropped.
 */
export function any(
  typeUrl: string,
  obj: Record<string, unknown>,
): { type_url: string; value: Uint8Array } {
  return { type_url: typeUrl, value: encode(typeUrl, obj) };
}

export function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

export const T = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  cors: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  corsPolicy: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
  jwt: 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  jwtPerRoute: 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig',
  localRateLimit:
    'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  rbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  rbacPerRoute: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  basicAuth: 'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth',
  basicAuthPerRoute:
    'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute',
  downstreamTls:
    'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
} as const;

/** HTTP filter names, in the order they run (router last). */
export const FilterNames = {
  jwt: 'envoy.filters.http.jwt_authn',
  basicAuth: 'envoy.filters.http.basic_auth',
  cors: 'envoy.filters.http.cors',
  localRateLimit: 'envoy.filters.http.local_ratelimit',
  rbacDeny: 'envoy.filters.http.rbac.deny',
  rbacAllow: 'envoy.filters.http.rbac.allow',
  router: 'envoy.filters.http.router',
} as const;
