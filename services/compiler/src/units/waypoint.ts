/**
 * A waypoint (Gateway of class istio-waypoint) → one HBONE Listener on 15008 whose routes serve
 * every service that uses the waypoint (istio.io/use-waypoint on the Service or its Namespace),
 * with the services' mesh routes, L7 AuthorizationPolicies (RBAC), Clusters and endpoints.
 */
import type { AuthorizationPolicy, Namespace, PlacedResource, Service } from '@shoal/model';
import { TypeUrls, type XdsResource } from '@shoal/proto';
import { clusterInfo } from '../gatewayapi/context.js';
import { listenerStatuses, type GatewayInfo } from '../gatewayapi/gateway.js';
import type { IRCluster, IRVirtualHost } from '../ir.js';
import type { Memo } from '../memo.js';
import { HBONE_PORT, Names, WaypointLabels } from '../names.js';
import { Keys } from '../state.js';
import { backendResources } from '../xds/backends.js';
import { resource } from '../xds/encode.js';
import { httpConnectionManager, routeConfiguration } from '../xds/http.js';
import { istioRulePolicy } from '../xds/rbac.js';
import type { GatewayOutput } from './gateway.js';
import { meshRoutes, servicePorts } from './mesh.js';

/** Services in `cluster` that send their traffic through waypoint ns/name. */
export function waypointServices(
  memo: Memo,
  cluster: string,
  ns: string,
  name: string,
): PlacedResource<Service>[] {
  const out = new Map<string, PlacedResource<Service>>();
  for (const p of memo.query(Keys.useWaypoint(cluster, ns, name))) {
    if (p.resource.kind === 'Service')
      out.set(
        `${p.resource.metadata.namespace}/${p.resource.metadata.name}`,
        p as PlacedResource<Service>,
      );
    if (p.resource.kind === 'Namespace') {
      const nsName = (p.resource as Namespace).metadata.name;
      for (const s of memo.query(
        Keys.inNamespace('Service', cluster, nsName),
      ) as PlacedResource<Service>[]) {
        if (s.resource.metadata.labels?.[WaypointLabels.use] === undefined)
          out.set(`${nsName}/${s.resource.metadata.name}`, s);
      }
    }
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
}

export function compileWaypoint(memo: Memo, cluster: string, info: GatewayInfo): GatewayOutput {
  const ns = info.ns;
  const name = info.gateway.resource.metadata.name;
  const nodes = [...new Set(info.hosts.map((h) => h.resource.spec.node))].sort();
  const status = {
    key: `Gateway/${ns}/${name}`,
    conditions: info.conditions,
    listeners: listenerStatuses(info, new Map()),
  };
  if (!info.accepted) return { resources: [], nodes, status };
  const domain = clusterInfo(memo, cluster).domain;
  const clusters = new Map<string, IRCluster>();
  const vhosts: IRVirtualHost[] = [];
  for (const svc of waypointServices(memo, cluster, ns, name)) {
    const sns = svc.resource.metadata.namespace ?? 'default';
    const host = Names.serviceHost(sns, svc.resource.metadata.name, domain);
    const vips = [
      ...new Set([
        ...(svc.resource.spec.clusterIPs ?? []),
        ...(svc.resource.spec.clusterIP && svc.resource.spec.clusterIP !== 'None'
          ? [svc.resource.spec.clusterIP]
          : []),
      ]),
    ].sort();
    servicePorts(svc.resource).forEach((port, i) => {
      const routes = meshRoutes(
        memo,
        cluster,
        { ns: sns, name: svc.resource.metadata.name, host, port },
        clusters,
        false,
      );
      const domains = [
        ...(i === 0 ? [host] : []),
        `${host}:${port}`,
        ...vips.map((ip) => `${ip}:${port}`),
      ];
      vhosts.push({ name: `${host}:${port}`, domains, routes });
    });
  }
  const lname = Names.waypointListener(ns, name);
  const rbac = waypointRbac(memo, cluster, ns, name);
  const hcm = httpConnectionManager({ statPrefix: lname, routeConfigName: lname, rbac }, vhosts);
  const out: XdsResource[] = [
    resource(TypeUrls.listener, lname, {
      name: lname,
      address: { socketAddress: { address: '0.0.0.0', portValue: HBONE_PORT } },
      filterChains: [
        {
          name: 'hbone',
          filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: hcm }],
        },
      ],
    }),
    resource(TypeUrls.route, lname, {
      ...routeConfiguration(lname, vhosts),
      ignorePortInHostMatching: false,
    }),
    ...backendResources(memo, clusters),
  ];
  return { resources: out, nodes, status };
}

/** L7 AuthorizationPolicies bound to the waypoint (targetRefs to the Gateway or its Services). */
function waypointRbac(
  memo: Memo,
  cluster: string,
  ns: string,
  name: string,
): { deny?: Record<string, unknown>; allow?: Record<string, unknown> } {
  const policies = memo
    .query(Keys.target(cluster, 'Gateway', ns, name))
    .filter(
      (p) => p.resource.kind === 'AuthorizationPolicy',
    ) as PlacedResource<AuthorizationPolicy>[];
  const deny: Record<string, unknown> = {};
  const allow: Record<string, unknown> = {};
  for (const p of policies) {
    const key = `${p.resource.metadata.namespace}/${p.resource.metadata.name}`;
    const rules = p.resource.spec.rules ?? [];
    const target = (p.resource.spec.action ?? 'ALLOW') === 'DENY' ? deny : allow;
    rules.forEach((rule, i) => (target[`${key}/${i}`] = istioRulePolicy(rule)));
    if (rules.length === 0 && target === allow)
      allow[`${key}/none`] = {
        permissions: [{ notRule: { any: true } }],
        principals: [{ any: true }],
      };
  }
  return {
    ...(Object.keys(deny).length ? { deny } : {}),
    ...(Object.keys(allow).length ? { allow } : {}),
  };
}
