/**
 * L4 Authorization for ztunnel from AuthorizationPolicy (selector/namespace scoped, no
 * targetRefs: those go to waypoints) and PeerAuthentication (STRICT → DENY of any peer without
 * an mTLS identity, as Istio converts it). L7 attributes cannot be enforced at L4: as Istio does,
 * an ALLOW rule using them is dropped (fail closed) and a DENY rule loses them (denies more).
 */
import type { AuthorizationPolicy, AuthorizationRule, PeerAuthentication } from '@shoal/model';
import { TypeUrls, type XdsResource } from '@shoal/proto';
import type { Memo } from '../memo.js';
import { Names, ROOT_NAMESPACE } from '../names.js';
import { cond, type ResourceStatus } from '../status.js';
import { resource } from '../xds/encode.js';
import { cidrBytes } from './ip.js';

export interface AuthzOutput {
  readonly resource?: XdsResource;
  readonly status: ResourceStatus;
}

type Str =
  { exact: string } | { prefix: string } | { suffix: string } | { presence: Record<string, never> };
function strMatch(v: string): Str {
  if (v === '*') return { presence: {} };
  if (v.startsWith('*')) return { suffix: v.slice(1) };
  if (v.endsWith('*')) return { prefix: v.slice(0, -1) };
  return { exact: v };
}

const L7_SOURCE = [
  'requestPrincipals',
  'notRequestPrincipals',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;
const L7_OPERATION = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

function l7Fields(rule: AuthorizationRule): string[] {
  const out = new Set<string>();
  for (const f of rule.from ?? [])
    for (const k of L7_SOURCE) if (f.source?.[k]?.length) out.add(`from.source.${k}`);
  for (const t of rule.to ?? [])
    for (const k of L7_OPERATION) if (t.operation?.[k]?.length) out.add(`to.operation.${k}`);
  if (rule.when?.length) out.add('when');
  return [...out];
}

function group(rule: AuthorizationRule) {
  const rules: { matches: Record<string, unknown>[] }[] = [];
  const from = (rule.from ?? []).map((f) => {
    const s = f.source ?? {};
    const m: Record<string, unknown> = {};
    if (s.principals?.length) m.principals = s.principals.map(strMatch);
    if (s.notPrincipals?.length) m.notPrincipals = s.notPrincipals.map(strMatch);
    if (s.namespaces?.length) m.namespaces = s.namespaces.map(strMatch);
    if (s.notNamespaces?.length) m.notNamespaces = s.notNamespaces.map(strMatch);
    if (s.ipBlocks?.length) m.sourceIps = s.ipBlocks.map(cidrBytes);
    if (s.notIpBlocks?.length) m.notSourceIps = s.notIpBlocks.map(cidrBytes);
    return m;
  });
  if (from.length) rules.push({ matches: from });
  const to = (rule.to ?? []).map((t) => {
    const o = t.operation ?? {};
    const m: Record<string, unknown> = {};
    if (o.ports?.length) m.destinationPorts = o.ports.map(Number);
    if (o.notPorts?.length) m.notDestinationPorts = o.notPorts.map(Number);
    return m;
  });
  if (to.length) rules.push({ matches: to });
  return { rules };
}

export function authorizationUnit(
  memo: Memo,
  cluster: string,
  ns: string,
  name: string,
): AuthzOutput | undefined {
  return memo.unit(`authz|${cluster}|${ns}|${name}`, () => {
    const p = memo.one<AuthorizationPolicy>('AuthorizationPolicy', cluster, ns, name)?.resource;
    if (!p) return undefined;
    const key = `AuthorizationPolicy/${ns}/${name}`;
    if (p.spec.targetRef || p.spec.targetRefs?.length)
      return {
        status: {
          key,
          conditions: [
            cond('Accepted', true, 'Accepted', 'enforced by the targeted waypoint (L7)'),
          ],
        },
      };
    const action = p.spec.action ?? 'ALLOW';
    const dropped: string[] = [];
    const groups = (p.spec.rules ?? []).flatMap((rule, i) => {
      const l7 = l7Fields(rule);
      if (l7.length === 0) return [group(rule)];
      dropped.push(`rules[${i}] (${l7.join(', ')})`);
      return action === 'ALLOW' ? [] : [group(rule)];
    });
    const scope = p.spec.selector
      ? 'WORKLOAD_SELECTOR'
      : ns === ROOT_NAMESPACE
        ? 'GLOBAL'
        : 'NAMESPACE';
    const msg = dropped.length
      ? `ztunnel enforces L4 only: ${action === 'ALLOW' ? 'dropped' : 'ignored the L7 attributes of'} ${dropped.join('; ')}; bind the policy to a waypoint with targetRefs for L7`
      : '';
    return {
      resource: resource(TypeUrls.authorization, Names.authorization(ns, name), {
        name,
        namespace: ns,
        scope,
        action,
        groups,
        origin: 'AuthorizationPolicy',
      }),
      status: {
        key,
        conditions: [
          cond('Accepted', true, dropped.length ? 'PartiallyEnforced' : 'Accepted', msg),
        ],
      },
    };
  });
}

export function peerAuthenticationUnit(
  memo: Memo,
  cluster: string,
  ns: string,
  name: string,
): AuthzOutput | undefined {
  return memo.unit(`peerauthn|${cluster}|${ns}|${name}`, () => {
    const p = memo.one<PeerAuthentication>('PeerAuthentication', cluster, ns, name)?.resource;
    if (!p) return undefined;
    const key = `PeerAuthentication/${ns}/${name}`;
    const mode = p.spec.mtls?.mode ?? 'UNSET';
    const ports = Object.entries(p.spec.portLevelMtls ?? {});
    const strictPorts = ports
      .filter(([, v]) => v.mode === 'STRICT')
      .map(([k]) => Number(k))
      .sort((a, b) => a - b);
    const laxPorts = ports
      .filter(([, v]) => v.mode === 'PERMISSIVE' || v.mode === 'DISABLE')
      .map(([k]) => Number(k))
      .sort((a, b) => a - b);
    const noIdentity: Record<string, unknown> = { notPrincipals: [{ presence: {} }] };
    let match: Record<string, unknown> | undefined;
    if (mode === 'STRICT')
      match = laxPorts.length ? { ...noIdentity, notDestinationPorts: laxPorts } : noIdentity;
    else if (strictPorts.length) match = { ...noIdentity, destinationPorts: strictPorts };
    const status = {
      key,
      conditions: [
        cond(
          'Accepted',
          true,
          'Accepted',
          match
            ? 'plaintext peers are denied'
            : 'no effect in ambient: traffic is always mTLS when both sides are in the mesh',
        ),
      ],
    };
    if (!match) return { status };
    const scope = p.spec.selector
      ? 'WORKLOAD_SELECTOR'
      : ns === ROOT_NAMESPACE
        ? 'GLOBAL'
        : 'NAMESPACE';
    const rname = Names.peerAuthentication(ns, name);
    return {
      resource: resource(TypeUrls.authorization, rname, {
        name: rname.slice(ns.length + 1),
        namespace: ns,
        scope,
        action: 'DENY',
        groups: [{ rules: [{ matches: [match] }] }],
        origin: 'PeerAuthentication',
      }),
      status,
    };
  });
}
