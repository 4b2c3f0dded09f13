/**
 * One Gateway (not a waypoint) → Envoy Listener per port, RouteConfiguration per HTTP port,
 * Clusters, ClusterLoadAssignments and Secrets; plus the Gateway's status.
 */
import {
  parseDuration,
  type ClientTrafficPolicy,
  type GRPCRoute,
  type HTTPRoute,
  type PlacedResource,
  type Secret,
  type TCPRoute,
  type TLSRoute,
} from '@shoal/model';
import { TypeUrls, type XdsResource } from '@shoal/proto';
import { attach, type AnyRoute } from '../gatewayapi/attach.js';
import {
  gatewayInfo,
  listenerStatuses,
  type GatewayInfo,
  type ListenerInfo,
} from '../gatewayapi/gateway.js';
import { httpRouteIR, orderRoutes, type RankedRoute } from '../gatewayapi/httproutes.js';
import { findPolicy } from '../gatewayapi/policies.js';
import { resolveBackends } from '../gatewayapi/refs.js';
import type { IRCluster, IRVirtualHost } from '../ir.js';
import type { Memo } from '../memo.js';
import { Names } from '../names.js';
import { Keys } from '../state.js';
import type { ResourceStatus } from '../status.js';
import { backendResources } from '../xds/backends.js';
import { any, duration, resource, T } from '../xds/encode.js';
import { httpConnectionManager, jwksCluster, routeConfiguration } from '../xds/http.js';

export interface GatewayOutput {
  readonly resources: readonly XdsResource[];
  /** Nodes hosting the gateway (from its workloads), sorted. */
  readonly nodes: readonly string[];
  readonly status: ResourceStatus;
}

const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute'] as const;

interface PortGroup {
  readonly port: number;
  readonly listeners: ListenerInfo[];
  /** listener name → hostname → ranked HTTP routes */
  readonly http: Map<string, Map<string, RankedRoute[]>>;
  /** listener name → L4 routes (TLS/TCP) with their hostnames */
  readonly l4: Map<
    string,
    { route: PlacedResource<TCPRoute | TLSRoute>; hostnames: readonly string[] }[]
  >;
}

export function gatewayUnit(
  memo: Memo,
  cluster: string,
  ns: string,
  name: string,
  compileWaypoint: (info: GatewayInfo) => GatewayOutput,
): GatewayOutput | undefined {
  return memo.unit(`gateway|${cluster}|${ns}|${name}`, () => {
    const info = gatewayInfo(memo, cluster, ns, name);
    if (!info) return undefined;
    if (info.isWaypoint) return compileWaypoint(info);
    const attached = new Map<string, number>();
    const nodes = [...new Set(info.hosts.map((h) => h.resource.spec.node))].sort();
    if (!info.accepted)
      return {
        resources: [],
        nodes,
        status: {
          key: `Gateway/${ns}/${name}`,
          conditions: info.conditions,
          listeners: listenerStatuses(info, attached),
        },
      };
    const clusters = new Map<string, IRCluster>();
    const ports = new Map<number, PortGroup>();
    for (const l of info.listeners.filter((x) => x.valid)) {
      let g = ports.get(l.listener.port);
      if (!g)
        ports.set(
          l.listener.port,
          (g = { port: l.listener.port, listeners: [], http: new Map(), l4: new Map() }),
        );
      g.listeners.push(l);
    }
    const ctx = { cluster, gateway: { ns, name }, clusters };
    for (const kind of ROUTE_KINDS) {
      for (const route of memo
        .query(Keys.parent(cluster, 'Gateway', ns, name))
        .filter((p) => p.resource.kind === kind) as PlacedResource<AnyRoute>[]) {
        const routeNs = route.resource.metadata.namespace ?? 'default';
        let ranked: RankedRoute[] | undefined;
        for (const ref of route.resource.spec.parentRefs ?? []) {
          if (
            (ref.kind ?? 'Gateway') !== 'Gateway' ||
            (ref.namespace ?? routeNs) !== ns ||
            ref.name !== name
          )
            continue;
          const a = attach(memo, cluster, route, ref);
          for (const { info: l, hostnames } of a.listeners) {
            attached.set(l.listener.name, (attached.get(l.listener.name) ?? 0) + 1);
            const g = ports.get(l.listener.port)!;
            if (kind === 'HTTPRoute' || kind === 'GRPCRoute') {
              ranked ??= httpRouteIR(memo, ctx, route as PlacedResource<HTTPRoute | GRPCRoute>);
              let byHost = g.http.get(l.listener.name);
              if (!byHost) g.http.set(l.listener.name, (byHost = new Map()));
              for (const h of hostnames) byHost.set(h, [...(byHost.get(h) ?? []), ...ranked]);
            } else {
              g.l4.set(l.listener.name, [
                ...(g.l4.get(l.listener.name) ?? []),
                { route: route as PlacedResource<TCPRoute | TLSRoute>, hostnames },
              ]);
            }
          }
        }
      }
    }
    const ctp = findPolicy(memo, cluster, 'ClientTrafficPolicy', { kind: 'Gateway', ns, name })
      ?.resource as ClientTrafficPolicy | undefined;
    const out: XdsResource[] = [];
    const secrets = new Map<string, PlacedResource<Secret>>();
    const jwks = new Set<string>();
    for (const g of [...ports.values()].sort((a, b) => a.port - b.port)) {
      const lname = Names.gatewayListener(ns, name, g.port);
      const chains: Record<string, unknown>[] = [];
      const vhostsAll: IRVirtualHost[] = [];
      for (const l of g.listeners) {
        const proto = l.listener.protocol;
        if (proto === 'HTTP' || proto === 'HTTPS') {
          const vhosts = [
            ...(g.http.get(l.listener.name) ?? new Map<string, RankedRoute[]>()).entries(),
          ]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([host, routes]) => ({
              name: `${ns}/${name}/${l.listener.name}/${host}`,
              domains: [host],
              routes: orderRoutes(routes),
            }));
          vhostsAll.push(...vhosts);
          for (const v of vhosts)
            for (const r of v.routes)
              for (const p of r.security?.jwtProviders ?? [])
                if (p.remoteJWKS) jwks.add(p.remoteJWKS.uri);
        }
      }
      const isHttp = g.listeners.some(
        (l) => l.listener.protocol === 'HTTP' || l.listener.protocol === 'HTTPS',
      );
      if (isHttp) {
        const hcm = httpConnectionManager(
          {
            statPrefix: lname,
            routeConfigName: lname,
            ...(ctp?.spec.timeout?.http?.idleTimeout
              ? { idleTimeoutMs: parseDuration(ctp.spec.timeout.http.idleTimeout) }
              : {}),
            ...(ctp?.spec.timeout?.http?.requestReceivedTimeout
              ? { requestTimeoutMs: parseDuration(ctp.spec.timeout.http.requestReceivedTimeout) }
              : {}),
            ...(ctp?.spec.clientIPDetection?.xForwardedFor?.numTrustedHops !== undefined
              ? { xffNumTrustedHops: ctp.spec.clientIPDetection.xForwardedFor.numTrustedHops }
              : {}),
            ...(ctp?.spec.headers?.withUnderscoresAction
              ? {
                  withUnderscoresAction: {
                    Allow: 'ALLOW',
                    RejectRequest: 'REJECT_REQUEST',
                    DropHeader: 'DROP_HEADER',
                  }[ctp.spec.headers.withUnderscoresAction],
                }
              : {}),
          },
          vhostsAll,
        );
        for (const l of g.listeners) {
          const chain: Record<string, unknown> = {
            name: l.listener.name,
            filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: hcm }],
          };
          if (l.listener.protocol === 'HTTPS') {
            if (l.listener.hostname)
              chain.filterChainMatch = { serverNames: [l.listener.hostname] };
            chain.transportSocket = tlsSocket(l, ns, secrets);
          }
          chains.push(chain);
        }
        out.push(resource(TypeUrls.route, lname, routeConfiguration(lname, vhostsAll)));
      } else {
        for (const l of g.listeners) {
          for (const { route, hostnames } of g.l4.get(l.listener.name) ?? []) {
            const rns = route.resource.metadata.namespace ?? 'default';
            const res = resolveBackends(
              memo,
              cluster,
              { kind: route.resource.kind, ns: rns },
              route.resource.spec.rules[0]?.backendRefs ?? [],
            );
            if (res.backends.length === 0) continue;
            for (const b of res.backends)
              clusters.set(Names.outbound(b.host, b.port), {
                name: Names.outbound(b.host, b.port),
                eds: Names.outbound(b.host, b.port),
              });
            const tcp = any(T.tcpProxy, {
              statPrefix: `${lname}/${route.resource.kind}/${rns}/${route.resource.metadata.name}`,
              ...(res.backends.length === 1
                ? { cluster: Names.outbound(res.backends[0]!.host, res.backends[0]!.port) }
                : {
                    weightedClusters: {
                      clusters: res.backends.map((b) => ({
                        name: Names.outbound(b.host, b.port),
                        weight: b.weight,
                      })),
                    },
                  }),
            });
            const chain: Record<string, unknown> = {
              name: `${l.listener.name}/${route.resource.kind}/${rns}/${route.resource.metadata.name}`,
              filters: [{ name: 'envoy.filters.network.tcp_proxy', typedConfig: tcp }],
            };
            const sni = hostnames.filter((h) => h !== '*');
            if (sni.length) chain.filterChainMatch = { serverNames: sni };
            if (
              l.listener.protocol === 'TLS' &&
              (l.listener.tls?.mode ?? 'Terminate') === 'Terminate'
            )
              chain.transportSocket = tlsSocket(l, ns, secrets);
            chains.push(chain);
            if (route.resource.kind === 'TCPRoute') break; // one TCP route per listener: the oldest (sorted) wins
          }
        }
      }
      if (chains.length === 0) continue;
      out.push(
        resource(TypeUrls.listener, lname, {
          name: lname,
          address: { socketAddress: { address: '0.0.0.0', portValue: g.port } },
          filterChains: chains,
        }),
      );
    }
    for (const [sname, s] of [...secrets.entries()].sort(([a], [b]) => (a < b ? -1 : 1)))
      out.push(secretResource(sname, s));
    out.push(...backendResources(memo, clusters));
    for (const uri of [...jwks].sort()) out.push(jwksClusterResource(uri));
    return {
      resources: out,
      nodes,
      status: {
        key: `Gateway/${ns}/${name}`,
        conditions: info.conditions,
        listeners: listenerStatuses(info, attached),
      },
    };
  });
}

function tlsSocket(
  l: ListenerInfo,
  gwNs: string,
  secrets: Map<string, PlacedResource<Secret>>,
): Record<string, unknown> {
  const names = l.certificates.map((c) => {
    const n = Names.secret(c.resource.metadata.namespace ?? gwNs, c.resource.metadata.name);
    secrets.set(n, c);
    return { name: n, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } };
  });
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: any(T.downstreamTls, {
      commonTlsContext: {
        tlsCertificateSdsSecretConfigs: names,
        alpnProtocols: ['h2', 'http/1.1'],
      },
    }),
  };
}

function secretResource(name: string, s: PlacedResource<Secret>): XdsResource {
  const data = (k: string) =>
    s.resource.stringData?.[k] ??
    Buffer.from(s.resource.data?.[k] ?? '', 'base64').toString('utf8');
  return resource(TypeUrls.secret, name, {
    name,
    tlsCertificate: {
      certificateChain: { inlineString: data('tls.crt') },
      privateKey: { inlineString: data('tls.key') },
    },
  });
}

function jwksClusterResource(uri: string): XdsResource {
  const u = new URL(uri);
  const name = jwksCluster(uri);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return resource(TypeUrls.cluster, name, {
    name,
    type: 'LOGICAL_DNS',
    connectTimeout: duration(10_000),
    loadAssignment: {
      clusterName: name,
      endpoints: [
        {
          lbEndpoints: [
            { endpoint: { address: { socketAddress: { address: u.hostname, portValue: port } } } },
          ],
        },
      ],
    },
    ...(u.protocol === 'https:'
      ? {
          transportSocket: {
            name: 'envoy.transport_sockets.tls',
            typedConfig: any(
              'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
              { sni: u.hostname },
            ),
          },
        }
      : {}),
  });
}
