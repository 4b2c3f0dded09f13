/**
 * The node's L4 view of the mesh, decoded from the xDS `shoal.workload.v1.Address` and
 * `shoal.security.v1.Authorization` resources. Pure: resources in, an immutable state (or a
 * ConfigRejectedError naming the bad resource) out.
 */
import { TypeUrls, decodeMessage } from '@shoal/proto';
import { ConfigRejectedError } from '../errors.js';

export interface PortMap {
  readonly servicePort: number;
  readonly targetPort: number;
}

export interface GatewayRef {
  /** Either an IP or a namespace/hostname of a service. */
  readonly ip?: string;
  readonly service?: string;
  readonly port: number;
}

export interface WorkloadInfo {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly ips: readonly string[];
  readonly identity: string;
  readonly serviceAccount: string;
  readonly node: string;
  readonly cluster: string;
  readonly hbone: boolean;
  readonly healthy: boolean;
  readonly waypoint?: GatewayRef;
  /** "<namespace>/<hostname>" → port mapping. */
  readonly services: ReadonlyMap<string, readonly PortMap[]>;
  readonly authorizationPolicies: readonly string[];
}

export interface ServiceInfo {
  /** "<namespace>/<hostname>" */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips: readonly string[];
  readonly ports: readonly PortMap[];
  readonly waypoint?: GatewayRef;
}

export type StringMatch =
  | { readonly exact: string }
  | { readonly prefix: string }
  | { readonly suffix: string }
  | { readonly presence: true };

export interface Cidr {
  readonly ip: string;
  readonly length: number;
}

export interface L4Match {
  readonly namespaces: readonly StringMatch[];
  readonly notNamespaces: readonly StringMatch[];
  readonly principals: readonly StringMatch[];
  readonly notPrincipals: readonly StringMatch[];
  readonly sourceIps: readonly Cidr[];
  readonly notSourceIps: readonly Cidr[];
  readonly destinationIps: readonly Cidr[];
  readonly notDestinationIps: readonly Cidr[];
  readonly destinationPorts: readonly number[];
  readonly notDestinationPorts: readonly number[];
}

export interface AuthorizationPolicy {
  /** "<namespace>/<name>" */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly scope: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
  readonly action: 'ALLOW' | 'DENY';
  /** OR of groups; a group is an AND of rules; a rule is an OR of matches. */
  readonly groups: readonly (readonly (readonly L4Match[])[])[];
}

export interface L4State {
  readonly workloadsByIp: ReadonlyMap<string, WorkloadInfo>;
  readonly services: ReadonlyMap<string, ServiceInfo>;
  readonly servicesByVip: ReadonlyMap<string, ServiceInfo>;
  readonly policies: ReadonlyMap<string, AuthorizationPolicy>;
}

export const EMPTY_L4: L4State = {
  workloadsByIp: new Map(),
  services: new Map(),
  servicesByVip: new Map(),
  policies: new Map(),
};

export function ipFromBytes(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length === 16) {
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    return parts.join(':');
  }
  throw new Error(`address of ${b.length} bytes is neither IPv4 nor IPv6`);
}

export function ipToBytes(ip: string): Uint8Array {
  return new Uint8Array(ip.split('.').map(Number));
}

type Raw = Record<string, unknown>;
const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

function gateway(raw: Raw | undefined): GatewayRef | undefined {
  if (!raw) return undefined;
  const port = Number(raw.hboneMtlsPort ?? 15008) || 15008;
  const addr = raw.address as Raw | undefined;
  if (addr?.address) return { ip: ipFromBytes(addr.address as Uint8Array), port };
  const host = raw.hostname as Raw | undefined;
  if (host?.hostname)
    return { service: `${String(host.namespace)}/${String(host.hostname)}`, port };
  return undefined;
}

function ports(raw: unknown): PortMap[] {
  return arr<Raw>(raw).map((p) => ({
    servicePort: Number(p.servicePort ?? 0),
    targetPort: Number(p.targetPort ?? p.servicePort ?? 0),
  }));
}

function stringMatches(raw: unknown): StringMatch[] {
  return arr<Raw>(raw).map((m) => {
    if (typeof m.exact === 'string') return { exact: m.exact };
    if (typeof m.prefix === 'string') return { prefix: m.prefix };
    if (typeof m.suffix === 'string') return { suffix: m.suffix };
    return { presence: true as const };
  });
}

function cidrs(raw: unknown): Cidr[] {
  return arr<Raw>(raw).map((c) => ({
    ip: ipFromBytes(c.address as Uint8Array),
    length: Number(c.length ?? 32),
  }));
}

function decodeWorkload(name: string, w: Raw): WorkloadInfo {
  const ips = arr<Uint8Array>(w.addresses).map(ipFromBytes);
  if (ips.length === 0) throw new Error('workload has no addresses');
  if (typeof w.identity !== 'string' || !w.identity.startsWith('spiffe://')) {
    throw new Error('workload identity must be a spiffe:// URI');
  }
  const services = new Map<string, PortMap[]>();
  for (const [k, v] of Object.entries((w.services ?? {}) as Record<string, Raw>)) {
    services.set(k, ports(v.ports));
  }
  const waypoint = gateway(w.waypoint as Raw | undefined);
  return {
    uid: String(w.uid ?? name),
    name: String(w.name ?? ''),
    namespace: String(w.namespace ?? ''),
    ips,
    identity: w.identity,
    serviceAccount: String(w.serviceAccount ?? ''),
    node: String(w.node ?? ''),
    cluster: String(w.clusterId ?? ''),
    hbone: w.tunnelProtocol === 'HBONE' || w.tunnelProtocol === 1,
    healthy: w.status !== 'UNHEALTHY' && w.status !== 1,
    ...(waypoint ? { waypoint } : {}),
    services,
    authorizationPolicies: arr<string>(w.authorizationPolicies),
  };
}

function decodeService(s: Raw): ServiceInfo {
  const namespace = String(s.namespace ?? '');
  const hostname = String(s.hostname ?? '');
  if (!hostname) throw new Error('service has no hostname');
  const waypoint = gateway(s.waypoint as Raw | undefined);
  return {
    key: `${namespace}/${hostname}`,
    name: String(s.name ?? ''),
    namespace,
    hostname,
    vips: arr<Raw>(s.addresses).map((a) => ipFromBytes(a.address as Uint8Array)),
    ports: ports(s.ports),
    ...(waypoint ? { waypoint } : {}),
  };
}

function decodePolicy(p: Raw): AuthorizationPolicy {
  const action = String(p.action ?? 'ALLOW');
  if (action !== 'ALLOW' && action !== 'DENY') throw new Error(`unknown action ${action}`);
  const scope = String(p.scope ?? 'GLOBAL') as AuthorizationPolicy['scope'];
  return {
    key: `${String(p.namespace ?? '')}/${String(p.name ?? '')}`,
    name: String(p.name ?? ''),
    namespace: String(p.namespace ?? ''),
    scope,
    action,
    groups: arr<Raw>(p.groups).map((g) =>
      arr<Raw>(g.rules).map((r) =>
        arr<Raw>(r.matches).map((m) => ({
          namespaces: stringMatches(m.namespaces),
          notNamespaces: stringMatches(m.notNamespaces),
          principals: stringMatches(m.principals),
          notPrincipals: stringMatches(m.notPrincipals),
          sourceIps: cidrs(m.sourceIps),
          notSourceIps: cidrs(m.notSourceIps),
          destinationIps: cidrs(m.destinationIps),
          notDestinationIps: cidrs(m.notDestinationIps),
          destinationPorts: arr<number>(m.destinationPorts).map(Number),
          notDestinationPorts: arr<number>(m.notDestinationPorts).map(Number),
        })),
      ),
    ),
  };
}

/** Build the L4 state from the full set of Address and Authorization resources (name → bytes). */
export function buildL4State(
  addresses: ReadonlyMap<string, Uint8Array>,
  authorizations: ReadonlyMap<string, Uint8Array>,
): L4State {
  const workloadsByIp = new Map<string, WorkloadInfo>();
  const services = new Map<string, ServiceInfo>();
  const servicesByVip = new Map<string, ServiceInfo>();
  const policies = new Map<string, AuthorizationPolicy>();
  for (const [name, bytes] of addresses) {
    try {
      const a = decodeMessage(TypeUrls.address, bytes);
      if (a.workload) {
        const w = decodeWorkload(name, a.workload as Raw);
        for (const ip of w.ips) {
          const prev = workloadsByIp.get(ip);
          if (prev) throw new Error(`address ${ip} is also used by workload ${prev.uid}`);
          workloadsByIp.set(ip, w);
        }
      } else if (a.service) {
        const s = decodeService(a.service as Raw);
        services.set(s.key, s);
        for (const vip of s.vips) servicesByVip.set(vip, s);
      } else {
        throw new Error('address is neither a workload nor a service');
      }
    } catch (err) {
      throw new ConfigRejectedError(TypeUrls.address, name, (err as Error).message, err);
    }
  }
  for (const [name, bytes] of authorizations) {
    try {
      const p = decodePolicy(decodeMessage(TypeUrls.authorization, bytes));
      policies.set(p.key, p);
    } catch (err) {
      throw new ConfigRejectedError(TypeUrls.authorization, name, (err as Error).message, err);
    }
  }
  return { workloadsByIp, services, servicesByVip, policies };
}

/** Workloads backing a service (by its "<namespace>/<hostname>" key), healthy ones only. */
export function endpointsOf(
  state: L4State,
  serviceKey: string,
): { w: WorkloadInfo; ports: readonly PortMap[] }[] {
  const seen = new Set<string>();
  const out: { w: WorkloadInfo; ports: readonly PortMap[] }[] = [];
  for (const w of state.workloadsByIp.values()) {
    const p = w.services.get(serviceKey);
    if (!p || !w.healthy || seen.has(w.uid)) continue;
    seen.add(w.uid);
    out.push({ w, ports: p });
  }
  return out.sort((a, b) => (a.w.uid < b.w.uid ? -1 : 1));
}

/** The identities allowed to act as the given waypoint. */
export function waypointIdentities(state: L4State, wp: GatewayRef): Set<string> {
  if (wp.ip) {
    const w = state.workloadsByIp.get(wp.ip);
    return new Set(w ? [w.identity] : []);
  }
  return new Set(endpointsOf(state, wp.service ?? '').map((e) => e.w.identity));
}

/** Workloads that serve as a waypoint for some service or workload (they terminate HBONE in a
 * waypoint actor, not in the ztunnel inbound). */
export function waypointWorkloads(state: L4State): Set<WorkloadInfo> {
  const out = new Set<WorkloadInfo>();
  const add = (g: GatewayRef | undefined) => {
    if (!g) return;
    if (g.ip) {
      const w = state.workloadsByIp.get(g.ip);
      if (w) out.add(w);
    } else for (const e of endpointsOf(state, g.service ?? '')) out.add(e.w);
  };
  for (const s of state.services.values()) add(s.waypoint);
  for (const w of state.workloadsByIp.values()) add(w.waypoint);
  return out;
}
