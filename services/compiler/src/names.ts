/**
 * Every name the compiler emits, in one place (documented in README.md). Names are built from
 * namespace/name pairs only, so the same input always yields the same names.
 */
export const WaypointLabels = {
  use: 'istio.io/use-waypoint',
  useNamespace: 'istio.io/use-waypoint-namespace',
  waypointFor: 'istio.io/waypoint-for',
} as const;

export const WAYPOINT_CLASS = 'istio-waypoint';
export const HBONE_PORT = 15008;
export const ROOT_NAMESPACE = 'istio-system';
export const DEFAULT_DOMAIN = 'cluster.local';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export const Names = {
  serviceHost: (ns: string, name: string, domain = DEFAULT_DOMAIN) => `${name}.${ns}.svc.${domain}`,
  /** L4 Address of a workload: its uid. */
  workloadAddress: (cluster: string, ns: string, name: string) => `${cluster}/${ns}/${name}`,
  /** L4 Address of a service (global). */
  serviceAddress: (ns: string, host: string) => `${ns}/${host}`,
  authorization: (ns: string, name: string) => `${ns}/${name}`,
  peerAuthentication: (ns: string, name: string) => `${ns}/converted_peer_authentication_${name}`,
  /** EDS service name and default Cluster name of a service port (Istio's convention). */
  outbound: (host: string, port: number) => `outbound|${port}||${host}`,
  /** A Cluster whose settings come from a BackendTrafficPolicy. */
  policyCluster: (host: string, port: number, policyNs: string, policy: string) =>
    `outbound|${port}||${host}|${policyNs}/${policy}`,
  gatewayListener: (ns: string, gw: string, port: number) => `gateway/${ns}/${gw}/${port}`,
  waypointListener: (ns: string, wp: string) => `waypoint/${ns}/${wp}/${HBONE_PORT}`,
  secret: (ns: string, name: string) => `${ns}/${name}`,
  proxylessRoute: (host: string, port: number) => `proxyless/${host}:${port}`,
  routeName: (kind: string, ns: string, name: string, rule: number, match: number) =>
    `${kind.toLowerCase()}/${ns}/${name}/rule/${rule}/match/${match}`,
};
