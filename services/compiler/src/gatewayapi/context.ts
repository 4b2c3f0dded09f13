/** Fleet facts every stage needs: cluster settings, services and their endpoints. */
import {
  matchesLabels,
  type Cluster,
  type EdgeSite,
  type PlacedResource,
  type Service,
  type Workload,
} from '@shoal/model';
import { Keys, type View } from '../state.js';
import { DEFAULT_DOMAIN, DEFAULT_TRUST_DOMAIN, Names } from '../names.js';

export interface ClusterInfo {
  readonly name: string;
  readonly domain: string;
  readonly trustDomain: string;
  readonly network: string;
  readonly region: string;
}

export function clusterInfo(view: View, cluster: string): ClusterInfo {
  const c = (view.query(Keys.global('Cluster', '', cluster))[0] ??
    view.query(Keys.global('EdgeSite', '', cluster))[0]) as
    PlacedResource<Cluster | EdgeSite> | undefined;
  const spec = c?.resource.spec ?? {};
  return {
    name: cluster,
    domain: spec.domain ?? DEFAULT_DOMAIN,
    trustDomain: spec.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    network: spec.network ?? '',
    region: spec.region ?? '',
  };
}

/** All definitions of a global service (one per cluster that defines ns/name). */
export function serviceDefs(
  view: View,
  ns: string,
  name: string,
): readonly PlacedResource<Service>[] {
  return view.query(Keys.global('Service', ns, name)) as readonly PlacedResource<Service>[];
}

/** The hostname of a service as seen from `cluster` (its cluster domain). */
export function serviceHost(view: View, cluster: string, ns: string, name: string): string {
  return Names.serviceHost(ns, name, clusterInfo(view, cluster).domain);
}

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  readonly cluster: string;
  readonly node: string;
  readonly network: string;
  readonly workload: string;
}

export function workloadIps(w: Workload): string[] {
  return w.spec.addresses ? [...w.spec.addresses] : w.spec.address ? [w.spec.address] : [];
}

/** Resolve a service targetPort on one workload (number, or a name from spec.ports). */
export function targetPort(
  svcPort: { port: number; targetPort?: number | string },
  w: Workload,
): number | undefined {
  const t = svcPort.targetPort;
  if (t === undefined) return svcPort.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  return w.spec.ports?.[t];
}

/** Ready endpoints of service ns/name on `port`, across every cluster that defines it. */
export function endpoints(view: View, ns: string, name: string, port: number): Endpoint[] {
  const out: Endpoint[] = [];
  for (const def of serviceDefs(view, ns, name)) {
    const sp = (def.resource.spec.ports ?? []).find((p) => p.port === port);
    const selector = def.resource.spec.selector;
    if (!sp || !selector) continue;
    const network = clusterInfo(view, def.cluster).network;
    for (const w of view.query(
      Keys.inNamespace('Workload', def.cluster, ns),
    ) as readonly PlacedResource<Workload>[]) {
      const wl = w.resource;
      if (wl.spec.ready === false || !matchesLabels(selector, wl.metadata.labels)) continue;
      const tp = targetPort(sp, wl);
      if (tp === undefined) continue;
      for (const ip of workloadIps(wl))
        out.push({
          ip,
          port: tp,
          cluster: def.cluster,
          node: wl.spec.node,
          network: wl.spec.network ?? network,
          workload: wl.metadata.name,
        });
    }
  }
  return out;
}
