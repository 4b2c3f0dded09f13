import { createHash } from 'node:crypto';
import type { MeshResource, PlacedResource } from '@shoal/model';

/** One resource of the desired state as the store's events describe it. */
export interface DesiredRow {
  readonly cluster: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly spec: MeshResource;
}

/** Resources that describe the fleet itself, not a cluster's mesh. */
const FLEET_KINDS = new Set(['Cluster', 'EdgeSite']);
/** Not compiler input: rollout policies steer rollouts. */
const CONTROL_KINDS = new Set(['RolloutPolicy']);
export const GLOBAL = 'global';

/**
 * Where each resource of the desired state lands for the compiler. Agents report what exists in
 * their cluster (placed there). Operators apply fleet-wide config without --cluster (cluster
 * "global"): it is placed into every cluster and edge site of the fleet, which is how one route
 * change reaches every cluster and can be rolled out wave by wave. Cluster/EdgeSite objects
 * name the members of the fleet.
 */
export function placeResources(
  rows: Iterable<DesiredRow>,
  opts: { trustDomain?: string } = {},
): PlacedResource[] {
  const all = [...rows];
  const members = new Set<string>();
  for (const r of all) {
    if (FLEET_KINDS.has(r.kind)) members.add(r.name);
    else if (r.cluster !== GLOBAL) members.add(r.cluster);
  }
  const placed: PlacedResource[] = [];
  for (const r of all) {
    if (CONTROL_KINDS.has(r.kind)) continue;
    if (FLEET_KINDS.has(r.kind))
      placed.push({ cluster: r.name, resource: withTrustDomain(r.spec, opts.trustDomain) });
    else if (r.cluster === GLOBAL)
      for (const c of members) placed.push({ cluster: c, resource: r.spec });
    else placed.push({ cluster: r.cluster, resource: r.spec });
  }
  return placed;
}

/**
 * Workload identities must be in the trust domain of the CA that signs them: a Cluster or
 * EdgeSite that names none gets the control plane's.
 */
function withTrustDomain(r: MeshResource, trustDomain: string | undefined): MeshResource {
  const spec = (r as { spec?: { trustDomain?: string } }).spec;
  if (!trustDomain || spec?.trustDomain) return r;
  return { ...r, spec: { ...spec, trustDomain } } as MeshResource;
}

/**
 * The version a rollout moves the fleet to: one id for the set of per-cluster versions the
 * compiler produced (each a content hash of that cluster's output). Equal inputs, equal id.
 */
export function fleetVersion(clusterVersions: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  for (const [c, v] of [...clusterVersions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${c}=${v}\n`);
  }
  return `fv-${h.digest('hex').slice(0, 16)}`;
}
