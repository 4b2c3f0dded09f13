/** Pure: which waypoints this node hosts, and the L7 view each one serves. */
import { waypointWorkloads, type L4State } from '../l4/model.js';
import { waypointListenerName, type L7Snapshot } from '../l7/model.js';
import type { L7View } from '../l7/proxy.js';

export interface HostedWaypoint {
  readonly uid: string;
  readonly ip: string;
  readonly identity: string;
  /** Listener names that may carry this waypoint's config, best first. */
  readonly listeners: readonly string[];
}

/**
 * Waypoint workloads scheduled on this node. The compiler names a waypoint's listener
 * `waypoint/<ns>/<gateway>/15008`; the workload belongs to the gateway's service
 * `<ns>/<gateway>.<ns>.svc.<domain>`, which is how the two are tied together.
 */
export function hostedWaypoints(
  l4: L4State,
  self: { cluster: string; node: string },
): HostedWaypoint[] {
  const out: HostedWaypoint[] = [];
  for (const w of waypointWorkloads(l4)) {
    if (w.node !== self.node || (w.cluster !== '' && w.cluster !== self.cluster)) continue;
    const listeners = [...w.services.keys()].map((key) => {
      const [ns = '', host = ''] = key.split('/');
      return waypointListenerName(ns, host.split('.')[0] ?? '');
    });
    listeners.push(waypointListenerName(w.namespace, w.name));
    out.push({ uid: w.uid, ip: w.ips[0]!, identity: w.identity, listeners });
  }
  return out.sort((a, b) => (a.uid < b.uid ? -1 : 1));
}

export function waypointView(
  wp: HostedWaypoint,
  l7: L7Snapshot,
  l4: L4State,
  version: string,
): L7View {
  const listener = wp.listeners.map((n) => l7.listeners.get(n)).find((l) => l !== undefined);
  const routes =
    listener?.inlineRoutes ?? (listener?.routeName ? l7.routes.get(listener.routeName) : undefined);
  return {
    version,
    l7,
    l4,
    ...(listener ? { listener } : {}),
    ...(routes ? { routes } : {}),
  };
}
