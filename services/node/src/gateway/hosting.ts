/** Pure: which Gateways this node hosts, and the L7 view each of their ports serves. */
import type { L4State } from '../l4/model.js';
import { gatewayListenerPrefix, type L7Snapshot } from '../l7/model.js';
import type { L7View } from '../l7/proxy.js';
import { localWorkloads } from '../ztunnel/actor.js';

export interface HostedGateway {
  /** `<ns>/<gateway>@<workload uid>`: one actor per gateway workload on this node. */
  readonly uid: string;
  readonly namespace: string;
  readonly gateway: string;
  readonly workload: string;
  readonly ip: string;
  /** The gateway workload's SPIFFE id (its service account): used for every upstream tunnel. */
  readonly identity: string;
  /** Its listener names `gateway/<ns>/<gateway>/<port>`, sorted. */
  readonly listeners: readonly string[];
}

/** The config a gateway runs: one L7 view per port (listener + its route table). */
export interface GatewayView {
  readonly version: string;
  readonly ports: ReadonlyMap<number, L7View>;
}

/**
 * Gateway workloads scheduled here. The compiler gives a workload labelled
 * `gateway.networking.k8s.io/gateway-name=<gw>` the service `<ns>/<gw>.<ns>.svc.<domain>` and
 * sends this node the listeners `gateway/<ns>/<gw>/<port>`: a local workload in service
 * `<ns>/<gw>.…` whose gateway has HTTP listeners here hosts that gateway.
 */
export function hostedGateways(
  l4: L4State,
  l7: L7Snapshot,
  self: { cluster: string; node: string },
): HostedGateway[] {
  const out = new Map<string, HostedGateway>();
  const names = [...l7.listeners.keys()].filter((n) => n.startsWith('gateway/')).sort();
  if (names.length === 0) return [];
  for (const w of localWorkloads(l4, self)) {
    const ip = w.ips[0];
    if (!ip) continue;
    for (const key of w.services.keys()) {
      const [ns = '', host = ''] = key.split('/');
      const gateway = host.split('.')[0] ?? '';
      const prefix = gatewayListenerPrefix(ns, gateway);
      const listeners = names.filter((n) => n.startsWith(prefix));
      if (listeners.length === 0) continue;
      const uid = `${ns}/${gateway}@${w.uid}`;
      out.set(uid, {
        uid,
        namespace: ns,
        gateway,
        workload: w.uid,
        ip,
        identity: w.identity,
        listeners,
      });
    }
  }
  return [...out.values()].sort((a, b) => (a.uid < b.uid ? -1 : 1));
}

export function gatewayView(
  gw: HostedGateway,
  l7: L7Snapshot,
  l4: L4State,
  version: string,
): GatewayView {
  const ports = new Map<number, L7View>();
  for (const name of gw.listeners) {
    const listener = l7.listeners.get(name);
    if (!listener) continue;
    const port = listener.port || Number(name.slice(name.lastIndexOf('/') + 1));
    if (!(port > 0 && port < 65536)) continue;
    const routes =
      listener.inlineRoutes ?? (listener.routeName ? l7.routes.get(listener.routeName) : undefined);
    ports.set(port, { version, l7, l4, listener, ...(routes ? { routes } : {}) });
  }
  return { version, ports };
}
