/**
 * L4 authorization at the ztunnel inbound, with Istio's semantics: a matching DENY wins; if any
 * ALLOW policy applies to the workload, one of them must match; with no ALLOW policy, allow.
 * Also the waypoint rule: a workload with a waypoint accepts traffic only from that waypoint.
 */
import { Spiffe } from '@shoal/common';
import type {
  AuthorizationPolicy,
  Cidr,
  L4Match,
  L4State,
  StringMatch,
  WorkloadInfo,
} from './model.js';
import { waypointIdentities } from './model.js';

export interface ConnectionInfo {
  /** Verified SPIFFE id of the peer (from its client certificate). */
  readonly sourceIdentity: string;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
}

export type Decision =
  { readonly allow: true } | { readonly allow: false; readonly reason: string };

function str(m: StringMatch, v: string | undefined): boolean {
  if ('presence' in m) return v !== undefined && v !== '';
  if (v === undefined) return false;
  if ('exact' in m) return v === m.exact || m.exact === '*';
  if ('prefix' in m) return v.startsWith(m.prefix);
  return v.endsWith(m.suffix);
}

function ipv4(ip: string): number | undefined {
  const p = ip.split('.');
  if (p.length !== 4) return undefined;
  return p.reduce((a, o) => a * 256 + Number(o), 0);
}

export function inCidr(ip: string, c: Cidr): boolean {
  const a = ipv4(ip);
  const b = ipv4(c.ip);
  if (a === undefined || b === undefined) return ip === c.ip;
  if (c.length === 0) return true;
  const mask = c.length >= 32 ? 0xffffffff : (0xffffffff << (32 - c.length)) >>> 0;
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

/** Values of one field OR; fields AND; an empty field matches anything. */
export function matches(m: L4Match, c: ConnectionInfo): boolean {
  const peer = Spiffe.parse(c.sourceIdentity);
  const ns = peer?.kind === 'workload' ? peer.namespace : undefined;
  const principal = c.sourceIdentity.replace(/^spiffe:\/\//, '');
  const any = <T>(xs: readonly T[], f: (x: T) => boolean) => xs.length === 0 || xs.some(f);
  const none = <T>(xs: readonly T[], f: (x: T) => boolean) => !xs.some(f);
  return (
    any(m.namespaces, (x) => str(x, ns)) &&
    none(m.notNamespaces, (x) => str(x, ns)) &&
    any(m.principals, (x) => str(x, principal) || str(x, c.sourceIdentity)) &&
    none(m.notPrincipals, (x) => str(x, principal) || str(x, c.sourceIdentity)) &&
    any(m.sourceIps, (x) => inCidr(c.sourceIp, x)) &&
    none(m.notSourceIps, (x) => inCidr(c.sourceIp, x)) &&
    any(m.destinationIps, (x) => inCidr(c.destinationIp, x)) &&
    none(m.notDestinationIps, (x) => inCidr(c.destinationIp, x)) &&
    any(m.destinationPorts, (p) => p === c.destinationPort) &&
    none(m.notDestinationPorts, (p) => p === c.destinationPort)
  );
}

function policyMatches(p: AuthorizationPolicy, c: ConnectionInfo): boolean {
  return p.groups.some((rules) =>
    rules.every((ms) => ms.length === 0 || ms.some((m) => matches(m, c))),
  );
}

export function policiesFor(state: L4State, w: WorkloadInfo): AuthorizationPolicy[] {
  const out: AuthorizationPolicy[] = [];
  for (const p of state.policies.values()) {
    if (
      p.scope === 'GLOBAL' ||
      (p.scope === 'NAMESPACE' && p.namespace === w.namespace) ||
      (p.scope === 'WORKLOAD_SELECTOR' && w.authorizationPolicies.includes(p.key))
    ) {
      out.push(p);
    }
  }
  return out;
}

export function authorize(state: L4State, w: WorkloadInfo, c: ConnectionInfo): Decision {
  if (w.waypoint) {
    const allowed = waypointIdentities(state, w.waypoint);
    if (!allowed.has(c.sourceIdentity)) {
      return { allow: false, reason: `workload ${w.uid} accepts traffic only from its waypoint` };
    }
  }
  const ps = policiesFor(state, w);
  const deny = ps.find((p) => p.action === 'DENY' && policyMatches(p, c));
  if (deny) return { allow: false, reason: `denied by ${deny.key}` };
  const allows = ps.filter((p) => p.action === 'ALLOW');
  if (allows.length > 0 && !allows.some((p) => policyMatches(p, c))) {
    return {
      allow: false,
      reason: `no ALLOW policy matches (${allows.map((p) => p.key).join(', ')})`,
    };
  }
  return { allow: true };
}
