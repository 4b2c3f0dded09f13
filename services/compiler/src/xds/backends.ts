/** Clusters + ClusterLoadAssignments for a set of IR clusters (shared by gateways, waypoints, proxyless). */
import type { XdsResource } from '@shoal/proto';
import { clusterInfo, endpoints } from '../gatewayapi/context.js';
import type { IRCluster } from '../ir.js';
import type { Memo } from '../memo.js';
import { clusterResource, loadAssignment } from './clusters.js';

/** Parse "outbound|<port>||<name>.<ns>.svc.<domain>". */
function parseOutbound(eds: string): { port: number; name: string; ns: string } | undefined {
  const m = /^outbound\|(\d+)\|\|([^.]+)\.([^.]+)\.svc\./.exec(eds);
  return m ? { port: Number(m[1]), name: m[2]!, ns: m[3]! } : undefined;
}

export function loadAssignmentFor(memo: Memo, eds: string): XdsResource {
  return memo.unit(`cla|${eds}`, () => {
    const o = parseOutbound(eds);
    const eps = o ? endpoints(memo, o.ns, o.name, o.port) : [];
    const regions = new Map<string, string>();
    for (const e of eps)
      if (!regions.has(e.cluster)) regions.set(e.cluster, clusterInfo(memo, e.cluster).region);
    return loadAssignment(eds, eps, regions);
  });
}

export function backendResources(
  memo: Memo,
  clusters: ReadonlyMap<string, IRCluster>,
): XdsResource[] {
  const out: XdsResource[] = [];
  const eds = new Set<string>();
  for (const c of [...clusters.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    out.push(
      memo.unit(`cds|${c.name}|${c.settings ? JSON.stringify(c.settings) : ''}`, () =>
        clusterResource(c),
      ),
    );
    eds.add(c.eds);
  }
  for (const e of [...eds].sort()) out.push(loadAssignmentFor(memo, e));
  return out;
}
