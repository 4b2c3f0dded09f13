/**
 * The desired state held by the compiler, with the secondary indexes the translation reads
 * through. Every read goes through a `View`, which records the index keys it touched: that is
 * the dependency information incremental compilation uses (a unit is recomputed exactly when a
 * change touches a key it read).
 */
import { namespaceOf, resourceKey, type MeshResource, type PlacedResource } from '@shoal/model';
import { cmp } from './hash.js';
import { WaypointLabels } from './names.js';

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
const ROUTE_KINDS = new Set(['HTTPRoute', 'GRPCRoute', 'TCPRoute', 'TLSRoute']);
const POLICY_KINDS = new Set([
  'BackendTrafficPolicy',
  'ClientTrafficPolicy',
  'SecurityPolicy',
  'AuthorizationPolicy',
]);

export const Keys = {
  exact: (kind: string, cluster: string, ns: string, name: string) =>
    `${kind}|${cluster}|${ns}|${name}`,
  /** Global by namespace/name across clusters (namespace sameness). */
  global: (kind: string, ns: string, name: string) => `${kind}|*|${ns}|${name}`,
  inNamespace: (kind: string, cluster: string, ns: string) => `${kind}|${cluster}|${ns}`,
  inCluster: (kind: string, cluster: string) => `${kind}|${cluster}`,
  fleetNamespace: (kind: string, ns: string) => `${kind}|*|${ns}`,
  fleet: (kind: string) => `${kind}|*`,
  /** Routes naming a parent (Gateway or Service). */
  parent: (cluster: string, kind: string, ns: string, name: string) =>
    `parent|${cluster}|${kind}|${ns}|${name}`,
  /** Policies targeting an object. */
  target: (cluster: string, kind: string, ns: string, name: string) =>
    `target|${cluster}|${kind}|${ns}|${name}`,
  /** Workloads hosting a Gateway (label gateway.networking.k8s.io/gateway-name). */
  host: (cluster: string, ns: string, gateway: string) => `host|${cluster}|${ns}|${gateway}`,
  /** Services, Workloads and Namespaces that name a waypoint with istio.io/use-waypoint. */
  useWaypoint: (cluster: string, ns: string, waypoint: string) =>
    `usewp|${cluster}|${ns}|${waypoint}`,
};

/** Index keys under which a resource is found; a change touches those of old and new versions. */
export function indexKeys(p: PlacedResource): string[] {
  const r = p.resource;
  const c = p.cluster;
  const ns = namespaceOf(r);
  const name = r.metadata.name;
  const k = r.kind;
  const keys = [
    Keys.exact(k, c, ns, name),
    Keys.global(k, ns, name),
    Keys.inNamespace(k, c, ns),
    Keys.inCluster(k, c),
    Keys.fleetNamespace(k, ns),
    Keys.fleet(k),
  ];
  const spec: unknown = 'spec' in r ? r.spec : {};
  if (ROUTE_KINDS.has(k)) {
    const refs =
      (spec as { parentRefs?: { kind?: string; namespace?: string; name: string }[] }).parentRefs ??
      [];
    for (const ref of refs)
      keys.push(Keys.parent(c, ref.kind ?? 'Gateway', ref.namespace ?? ns, ref.name));
  }
  if (POLICY_KINDS.has(k)) {
    const p = spec as { targetRef?: Target; targetRefs?: Target[] };
    for (const t of [...(p.targetRef ? [p.targetRef] : []), ...(p.targetRefs ?? [])])
      keys.push(Keys.target(c, t.kind, t.namespace ?? ns, t.name));
  }
  const labels = r.metadata.labels ?? {};
  const hostOf = labels[GATEWAY_NAME_LABEL];
  if (k === 'Workload' && hostOf) keys.push(Keys.host(c, ns, hostOf));
  const waypoint = labels[WaypointLabels.use];
  if ((k === 'Workload' || k === 'Service' || k === 'Namespace') && waypoint) {
    const wpNs = labels[WaypointLabels.useNamespace] ?? (k === 'Namespace' ? name : ns);
    keys.push(Keys.useWaypoint(c, wpNs, waypoint));
  }
  return keys;
}
interface Target {
  kind: string;
  name: string;
  namespace?: string;
}

const EMPTY: readonly PlacedResource[] = [];

export class FleetState {
  private readonly byKey = new Map<string, PlacedResource>();
  private readonly index = new Map<string, Map<string, PlacedResource>>();
  private readonly sorted = new Map<string, readonly PlacedResource[]>();

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): PlacedResource | undefined {
    return this.byKey.get(key);
  }

  /** Upsert (resource given) or delete (undefined); returns the index keys the change touched. */
  apply(key: string, next: PlacedResource | undefined): string[] {
    const prev = this.byKey.get(key);
    const touched = new Set<string>();
    if (prev) {
      for (const ik of indexKeys(prev)) {
        touched.add(ik);
        this.index.get(ik)?.delete(key);
        this.sorted.delete(ik);
      }
      this.byKey.delete(key);
    }
    if (next) {
      this.byKey.set(key, next);
      for (const ik of indexKeys(next)) {
        touched.add(ik);
        let m = this.index.get(ik);
        if (!m) this.index.set(ik, (m = new Map()));
        m.set(key, next);
        this.sorted.delete(ik);
      }
    }
    return [...touched];
  }

  upsert(p: PlacedResource): string[] {
    return this.apply(resourceKey(p), p);
  }

  /** Resources under an index key, sorted by resource key (deterministic). */
  query(indexKey: string): readonly PlacedResource[] {
    const cached = this.sorted.get(indexKey);
    if (cached) return cached;
    const m = this.index.get(indexKey);
    if (!m || m.size === 0) return EMPTY;
    const list = [...m.entries()].sort((a, b) => cmp(a[0], b[0])).map((e) => e[1]);
    this.sorted.set(indexKey, list);
    return list;
  }
}

/** Read access that records what was read (see Memo). */
export interface View {
  query(indexKey: string): readonly PlacedResource[];
  one<R extends MeshResource>(
    kind: R['kind'],
    cluster: string,
    ns: string,
    name: string,
  ): PlacedResource<R> | undefined;
}
