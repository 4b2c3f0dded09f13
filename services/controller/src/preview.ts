import { compileFleet, type FleetConfig } from '@shoal/compiler';
import type { MeshResource } from '@shoal/model';
import { PROXYLESS_NODE } from '@shoal/proto';
import { placeResources, type DesiredRow } from './placement.js';

/** One resource as an operator plans to change it: `spec` undefined means deleted. */
export interface PlannedChange {
  readonly cluster: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly spec?: MeshResource;
}

/** What a planned change does to one node's config. */
export interface NodeChange {
  readonly cluster: string;
  readonly node: string;
  /** The cluster's content version now ('' for a node that has no config yet). */
  readonly fromVersion: string;
  readonly toVersion: string;
  /** `<type>/<name> added|changed|removed`, type as the short name (Listener, Cluster, ...). */
  readonly changedResources: readonly string[];
}

const rowKey = (r: { cluster: string; kind: string; namespace: string; name: string }) =>
  `${r.cluster}/${r.kind}/${r.namespace}/${r.name}`;

/**
 * Pure: the fleet config `rows` compile to once `changes` are applied — the same placement and
 * compiler the controller runs, on a copy of its desired state; nothing is published.
 */
export function previewFleet(
  rows: Iterable<DesiredRow>,
  changes: readonly PlannedChange[],
  opts: { trustDomain?: string } = {},
): FleetConfig {
  const next = new Map([...rows].map((r) => [rowKey(r), r]));
  for (const c of changes) {
    if (c.spec) next.set(rowKey(c), { ...c, spec: c.spec });
    else next.delete(rowKey(c));
  }
  return compileFleet(placeResources(next.values(), opts));
}

/**
 * Pure: per node, which xDS resources differ between two compiled fleets (added, changed by
 * version, removed). Nodes whose config is the same are left out; the proxyless bundle (gRPC
 * clients) is reported as node "*proxyless".
 */
export function nodeChanges(before: FleetConfig | undefined, after: FleetConfig): NodeChange[] {
  const out: NodeChange[] = [];
  const clusters = new Set([...(before?.clusters.keys() ?? []), ...after.clusters.keys()]);
  for (const cluster of [...clusters].sort()) {
    const was = before?.clusters.get(cluster);
    const will = after.clusters.get(cluster);
    const nodes = new Set([...(was?.nodes.keys() ?? []), ...(will?.nodes.keys() ?? [])]);
    for (const node of [...nodes].sort()) {
      const index = (c: typeof was) =>
        new Map(
          (c?.nodes.get(node)?.resources ?? []).map((r) => [
            `${shortType(r.typeUrl)}/${r.name}`,
            r.version,
          ]),
        );
      const a = index(was);
      const b = index(will);
      const changed: string[] = [];
      for (const [k, v] of b) {
        if (!a.has(k)) changed.push(`${k} added`);
        else if (a.get(k) !== v) changed.push(`${k} changed`);
      }
      for (const k of a.keys()) if (!b.has(k)) changed.push(`${k} removed`);
      if (changed.length === 0) continue;
      out.push({
        cluster,
        node: node === PROXYLESS_NODE ? '*proxyless' : node,
        fromVersion: was?.nodes.has(node) ? was.version : '',
        toVersion: will?.nodes.has(node) ? will.version : '',
        changedResources: changed.sort(),
      });
    }
  }
  return out;
}

const shortType = (typeUrl: string) => typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
