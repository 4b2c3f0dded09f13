/**
 * L4 (ztunnel) Address resources: one per global service and one per workload, modelled on
 * Istio's workload API. Services are global by namespace/name across clusters (namespace
 * sameness): their addresses, ports and endpoints merge the definitions of every cluster.
 */
import {
  matchesLabels,
  matchesSelector,
  type AuthorizationPolicy,
  type Gateway,
  type Namespace,
  type PeerAuthentication,
  type PlacedResource,
  type Service,
  type Workload,
} from '@shoal/model';
import { Spiffe } from '@shoal/common';
import { TypeUrls, type XdsResource } from '@shoal/proto';
import { clusterInfo, serviceDefs, targetPort, workloadIps } from '../gatewayapi/context.js';
import type { Memo } from '../memo.js';
import { HBONE_PORT, Names, WAYPOINT_CLASS, WaypointLabels } from '../names.js';
import { GATEWAY_NAME_LABEL, Keys } from '../state.js';
import type { CompileIssue } from '../status.js';
import { resource } from '../xds/encode.js';
import { ipBytes } from './ip.js';

export interface L4Output {
  readonly resource?: XdsResource;
  readonly issues: readonly CompileIssue[];
}

type WaypointRef = { ns: string; name: string } | undefined;

/** The waypoint a Service or Workload uses: its own label, else its namespace's; "none" opts out. */
function useWaypoint(
  memo: Memo,
  cluster: string,
  r: Service | Workload,
  kind: 'service' | 'workload',
  issues: CompileIssue[],
): WaypointRef {
  const ns = r.metadata.namespace ?? 'default';
  let labels = r.metadata.labels ?? {};
  let wpNs = ns;
  if (labels[WaypointLabels.use] === undefined) {
    labels = memo.one<Namespace>('Namespace', cluster, '', ns)?.resource.metadata.labels ?? {};
  }
  const name = labels[WaypointLabels.use];
  if (name === undefined || name === 'none') return undefined;
  wpNs = labels[WaypointLabels.useNamespace] ?? wpNs;
  const gw = memo.one<Gateway>('Gateway', cluster, wpNs, name)?.resource;
  const what = `${r.kind} ${ns}/${r.metadata.name}`;
  if (!gw || gw.spec.gatewayClassName !== WAYPOINT_CLASS) {
    issues.push({
      cluster,
      resource: what,
      reason: `istio.io/use-waypoint names ${wpNs}/${name}, which is not a Gateway of class ${WAYPOINT_CLASS} in this cluster; traffic goes direct`,
    });
    return undefined;
  }
  const forWhat = gw.metadata.labels?.[WaypointLabels.waypointFor] ?? 'service';
  if (forWhat !== 'all' && forWhat !== kind) {
    issues.push({
      cluster,
      resource: what,
      reason: `waypoint ${wpNs}/${name} has istio.io/waypoint-for=${forWhat}, so it does not serve ${kind}s; traffic goes direct`,
    });
    return undefined;
  }
  return { ns: wpNs, name };
}

function gatewayAddress(wp: { ns: string; name: string }, domain: string) {
  return {
    hostname: { namespace: wp.ns, hostname: Names.serviceHost(wp.ns, wp.name, domain) },
    hboneMtlsPort: HBONE_PORT,
  };
}

export function serviceAddress(memo: Memo, ns: string, name: string): L4Output {
  return memo.unit(`addr-svc|${ns}|${name}`, () => {
    const defs = serviceDefs(memo, ns, name);
    const issues: CompileIssue[] = [];
    if (defs.length === 0) return { issues };
    const first = defs[0]!;
    const domain = clusterInfo(memo, first.cluster).domain;
    const host = Names.serviceHost(ns, name, domain);
    const addresses: { network: string; address: Uint8Array }[] = [];
    let waypoint: WaypointRef;
    for (const d of defs) {
      const network = clusterInfo(memo, d.cluster).network;
      const ips = [
        ...(d.resource.spec.clusterIPs ?? []),
        ...(d.resource.spec.clusterIP ? [d.resource.spec.clusterIP] : []),
      ].filter((ip) => ip !== 'None');
      for (const ip of [...new Set(ips)].sort()) addresses.push({ network, address: ipBytes(ip) });
      waypoint ??= useWaypoint(memo, d.cluster, d.resource, 'service', issues);
    }
    const ports = (first.resource.spec.ports ?? []).map((p) => ({
      servicePort: p.port,
      targetPort:
        typeof p.targetPort === 'number' ? p.targetPort : p.targetPort === undefined ? p.port : 0,
    }));
    const svc = {
      name,
      namespace: ns,
      hostname: host,
      addresses,
      ports,
      ...(waypoint ? { waypoint: gatewayAddress(waypoint, domain) } : {}),
      clusters: [...new Set(defs.map((d) => d.cluster))].sort(),
    };
    return {
      resource: resource(TypeUrls.address, Names.serviceAddress(ns, host), { service: svc }),
      issues,
    };
  });
}

/** A waypoint or gateway is reached by hostname: give it a Service address unless a real one exists. */
export function gatewayServiceAddress(memo: Memo, ns: string, name: string): L4Output {
  return memo.unit(`addr-gwsvc|${ns}|${name}`, () => {
    const gws = memo.query(Keys.global('Gateway', ns, name)) as PlacedResource<Gateway>[];
    if (gws.length === 0 || serviceDefs(memo, ns, name).length > 0) return { issues: [] };
    const domain = clusterInfo(memo, gws[0]!.cluster).domain;
    const host = Names.serviceHost(ns, name, domain);
    const ports = [...new Set(gws[0]!.resource.spec.listeners.map((l) => l.port))]
      .sort((a, b) => a - b)
      .map((p) => ({ servicePort: p, targetPort: p }));
    const svc = {
      name,
      namespace: ns,
      hostname: host,
      addresses: [],
      ports,
      clusters: [...new Set(gws.map((g) => g.cluster))].sort(),
    };
    return {
      resource: resource(TypeUrls.address, Names.serviceAddress(ns, host), { service: svc }),
      issues: [],
    };
  });
}

export function workloadAddress(memo: Memo, cluster: string, ns: string, name: string): L4Output {
  return memo.unit(`addr-wl|${cluster}|${ns}|${name}`, () => {
    const w = memo.one<Workload>('Workload', cluster, ns, name)?.resource;
    const issues: CompileIssue[] = [];
    if (!w) return { issues };
    const ci = clusterInfo(memo, cluster);
    const sa = w.spec.serviceAccount ?? 'default';
    const services: Record<string, { ports: { servicePort: number; targetPort: number }[] }> = {};
    const keyed: [string, { ports: { servicePort: number; targetPort: number }[] }][] = [];
    for (const s of memo.query(
      Keys.inNamespace('Service', cluster, ns),
    ) as PlacedResource<Service>[]) {
      if (!matchesLabels(s.resource.spec.selector, w.metadata.labels)) continue;
      const ports = (s.resource.spec.ports ?? []).flatMap((p) => {
        const tp = targetPort(p, w);
        return tp === undefined ? [] : [{ servicePort: p.port, targetPort: tp }];
      });
      keyed.push([
        Names.serviceAddress(ns, Names.serviceHost(ns, s.resource.metadata.name, ci.domain)),
        { ports },
      ]);
    }
    const gwName = w.metadata.labels?.[GATEWAY_NAME_LABEL];
    const gw = gwName ? memo.one<Gateway>('Gateway', cluster, ns, gwName)?.resource : undefined;
    if (gw && serviceDefs(memo, ns, gwName!).length === 0) {
      const ports = [...new Set(gw.spec.listeners.map((l) => l.port))]
        .sort((a, b) => a - b)
        .map((p) => ({ servicePort: p, targetPort: p }));
      keyed.push([Names.serviceAddress(ns, Names.serviceHost(ns, gwName!, ci.domain)), { ports }]);
    }
    for (const [k, v] of keyed.sort(([a], [b]) => (a < b ? -1 : 1))) services[k] = v;
    const waypoint = useWaypoint(memo, cluster, w, 'workload', issues);
    const policies = [
      ...(
        memo.query(
          Keys.inNamespace('AuthorizationPolicy', cluster, ns),
        ) as PlacedResource<AuthorizationPolicy>[]
      )
        .filter(
          (p) =>
            p.resource.spec.selector &&
            !p.resource.spec.targetRef &&
            !p.resource.spec.targetRefs?.length &&
            matchesSelector(p.resource.spec.selector, w.metadata.labels),
        )
        .map((p) => Names.authorization(ns, p.resource.metadata.name)),
      ...(
        memo.query(
          Keys.inNamespace('PeerAuthentication', cluster, ns),
        ) as PlacedResource<PeerAuthentication>[]
      )
        .filter(
          (p) =>
            p.resource.spec.selector &&
            matchesSelector(p.resource.spec.selector, w.metadata.labels),
        )
        .map((p) => Names.peerAuthentication(ns, p.resource.metadata.name)),
    ].sort();
    const wl = {
      uid: Names.workloadAddress(cluster, ns, name),
      name,
      namespace: ns,
      addresses: workloadIps(w).map(ipBytes),
      network: w.spec.network ?? ci.network,
      tunnelProtocol: 'HBONE',
      trustDomain: ci.trustDomain,
      serviceAccount: sa,
      identity: Spiffe.workload(ci.trustDomain, ns, sa),
      ...(waypoint ? { waypoint: gatewayAddress(waypoint, ci.domain) } : {}),
      node: w.spec.node,
      clusterId: cluster,
      canonicalName:
        w.metadata.labels?.['app.kubernetes.io/name'] ?? w.metadata.labels?.app ?? name,
      workloadName: name,
      services,
      authorizationPolicies: policies,
      status: w.spec.ready === false ? 'UNHEALTHY' : 'HEALTHY',
    };
    return { resource: resource(TypeUrls.address, wl.uid, { workload: wl }), issues };
  });
}
