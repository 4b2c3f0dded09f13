/**
 * A node's snapshot: the resources of one config version indexed by type and name, plus the
 * references between them (route → clusters, cluster → EDS name, listener → routes) used for
 * the consistency check and by make-before-break tests.
 */
import { TypeUrls, decodeMessage, type NodeConfigBundle, type XdsResource } from '@shoal/proto';

export type ResourceMap = ReadonlyMap<string, XdsResource>;

export interface Snapshot {
  readonly version: string;
  readonly types: ReadonlyMap<string, ResourceMap>;
}

const EMPTY: ResourceMap = new Map();

export function resourcesOf(s: Snapshot | undefined, typeUrl: string): ResourceMap {
  return s?.types.get(typeUrl) ?? EMPTY;
}

// Streams of a cluster mostly ask for the same things of the same snapshot: they share the
// answer (and the encoder recognises it by identity) instead of each building its own copy.
const picks = new WeakMap<ResourceMap, Map<string, ResourceMap>>();
const lists = new WeakMap<ResourceMap, readonly XdsResource[]>();

/** The resources of `all` named in `names`, in that order; `key` identifies the names. */
export function pick(all: ResourceMap, names: Iterable<string>, key: string): ResourceMap {
  if (all.size === 0) return all;
  let byKey = picks.get(all);
  if (!byKey) picks.set(all, (byKey = new Map()));
  let m = byKey.get(key);
  if (!m) {
    const out = new Map<string, XdsResource>();
    for (const n of names) {
      const r = all.get(n);
      if (r) out.set(n, r);
    }
    byKey.set(key, (m = out));
  }
  return m;
}

/** The resources of a map as a list, the same list for the same map. */
export function listOf(m: ResourceMap): readonly XdsResource[] {
  let l = lists.get(m);
  if (!l) lists.set(m, (l = [...m.values()]));
  return l;
}

export function snapshotOf(version: string, resources: Iterable<XdsResource>): Snapshot {
  const types = new Map<string, Map<string, XdsResource>>();
  for (const r of resources) {
    let m = types.get(r.typeUrl);
    if (!m) types.set(r.typeUrl, (m = new Map()));
    m.set(r.name, r);
  }
  return { version, types };
}

export function snapshotFromBundle(b: NodeConfigBundle): Snapshot {
  return snapshotOf(b.version, b.resources);
}

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** google.protobuf.Any as protobufjs decodes it (its bundled Any keeps `type_url`). */
interface AnyObj {
  type_url?: string;
  typeUrl?: string;
  value?: Uint8Array;
}

type Obj = Record<string, unknown>;
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});

/** Names a resource refers to, memoized per resource version (bytes are immutable). */
const refsMemo = new Map<string, readonly string[]>();

/** The clusters a RouteConfiguration names (direct or weighted). */
export function routeClusters(r: XdsResource): readonly string[] {
  return memo(r, () => {
    const out = new Set<string>();
    const rc = decodeMessage(TypeUrls.route, r.value);
    for (const vh of list(rc.virtualHosts)) {
      for (const route of list(vh.routes)) {
        const action = obj(route.route);
        if (typeof action.cluster === 'string') out.add(action.cluster);
        for (const wc of list(obj(action.weightedClusters).clusters)) {
          if (typeof wc.name === 'string') out.add(wc.name);
        }
      }
    }
    return [...out];
  });
}

/** The EDS service name a Cluster of type EDS reads its endpoints from, or none. */
export function clusterEdsNames(r: XdsResource): readonly string[] {
  return memo(r, () => {
    const c = decodeMessage(TypeUrls.cluster, r.value);
    if (c.type !== 'EDS') return [];
    const svc = obj(c.edsClusterConfig).serviceName;
    return [typeof svc === 'string' && svc !== '' ? svc : r.name];
  });
}

/** The RDS route names a Listener's HTTP connection managers read. */
export function listenerRoutes(r: XdsResource): readonly string[] {
  return memo(r, () => {
    const l = decodeMessage(TypeUrls.listener, r.value);
    const anys: AnyObj[] = [obj(obj(l.apiListener).apiListener) as AnyObj];
    for (const fc of [...list(l.filterChains), obj(l.defaultFilterChain)]) {
      for (const f of list(fc.filters)) anys.push(obj(f.typedConfig) as AnyObj);
    }
    const out: string[] = [];
    for (const a of anys) {
      if ((a.type_url ?? a.typeUrl) !== HCM || !a.value) continue;
      const hcm = decodeMessage(HCM, a.value);
      const name = obj(hcm.rds).routeConfigName;
      if (typeof name === 'string') out.push(name);
    }
    return out;
  });
}

function memo(r: XdsResource, f: () => readonly string[]): readonly string[] {
  const key = `${r.typeUrl}|${r.name}|${r.version}`;
  let v = refsMemo.get(key);
  if (!v) {
    v = f();
    if (refsMemo.size > 100_000) refsMemo.clear();
    refsMemo.set(key, v);
  }
  return v;
}

/**
 * The consistency check done before a snapshot is served (go-control-plane's Consistent(), in
 * the directions that black-hole traffic): every cluster a route names exists, every EDS
 * resource belongs to an EDS cluster, every RDS name a listener uses exists. Empty: consistent.
 */
export function consistencyIssues(s: Snapshot): string[] {
  const issues: string[] = [];
  const clusters = resourcesOf(s, TypeUrls.cluster);
  const routes = resourcesOf(s, TypeUrls.route);
  const edsNames = new Set<string>();
  for (const c of clusters.values()) for (const n of clusterEdsNames(c)) edsNames.add(n);
  for (const r of routes.values()) {
    for (const c of routeClusters(r)) {
      if (!clusters.has(c)) issues.push(`route "${r.name}" names cluster "${c}", which is missing`);
    }
  }
  for (const e of resourcesOf(s, TypeUrls.endpoint).keys()) {
    if (!edsNames.has(e)) issues.push(`endpoints "${e}" belong to no EDS cluster`);
  }
  for (const l of resourcesOf(s, TypeUrls.listener).values()) {
    for (const rn of listenerRoutes(l)) {
      if (!routes.has(rn)) issues.push(`listener "${l.name}" uses route "${rn}", which is missing`);
    }
  }
  return issues;
}
