/**
 * Authorization → Envoy RBAC policies. SecurityPolicy rules are split by action: DENY rules are
 * checked first (a deny filter), then ALLOW rules (an allow filter, present when the default
 * action is Deny). This differs from Envoy Gateway's first-match order only when an Allow rule
 * precedes an overlapping Deny rule: Shoal lets the Deny win (fail closed).
 */
import type { AuthorizationRule } from '@shoal/model';
import type { IRSecurity } from '../ir.js';
import { FilterNames } from './encode.js';

type Obj = Record<string, unknown>;

export function cidr(c: string): Obj {
  const [ip, len] = c.split('/');
  return {
    addressPrefix: ip,
    prefixLen: { value: len !== undefined ? Number(len) : ip!.includes(':') ? 128 : 32 },
  };
}

function or(ids: Obj[]): Obj {
  return ids.length === 1 ? ids[0]! : { orIds: { ids } };
}
function and(ids: Obj[]): Obj {
  return ids.length === 1 ? ids[0]! : { andIds: { ids } };
}

function claimMatcher(provider: string, claim: string, value: Obj): Obj {
  return {
    metadata: {
      filter: FilterNames.jwt,
      path: [{ key: provider }, ...claim.split('.').map((key) => ({ key }))],
      value,
    },
  };
}

export function rbacPolicies(s: IRSecurity): { deny?: Obj; allow?: Obj } {
  const a = s.spec.authorization!;
  const deny: Obj = {};
  const allow: Obj = {};
  (a.rules ?? []).forEach((rule, i) => {
    const ids: Obj[] = [];
    if (rule.principal.clientCIDRs?.length)
      ids.push(or(rule.principal.clientCIDRs.map((c) => ({ remoteIp: cidr(c) }))));
    const jwt = rule.principal.jwt;
    if (jwt) {
      for (const c of jwt.claims ?? [])
        ids.push(
          or(
            c.values.map((v) => claimMatcher(jwt.provider, c.name, { stringMatch: { exact: v } })),
          ),
        );
      for (const scope of jwt.scopes ?? [])
        ids.push(
          claimMatcher(jwt.provider, 'scope', {
            stringMatch: {
              safeRegex: { regex: `(^|.* )${scope.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( .*|$)` },
            },
          }),
        );
    }
    const policy = {
      permissions: [{ any: true }],
      principals: [and(ids.length ? ids : [{ any: true }])],
    };
    (rule.action === 'Deny' ? deny : allow)[rule.name ?? `rule-${i}`] = policy;
  });
  const out: { deny?: Obj; allow?: Obj } = {};
  if (Object.keys(deny).length) out.deny = deny;
  if ((a.defaultAction ?? 'Deny') === 'Deny') out.allow = allow;
  return out;
}

function principalName(p: string): Obj {
  if (p === '*') return { safeRegex: { regex: '.+' } };
  if (p.startsWith('*')) return { suffix: p.slice(1) };
  if (p.endsWith('*')) return { prefix: `spiffe://${p.slice(0, -1)}` };
  return { exact: `spiffe://${p}` };
}

/** One Istio AuthorizationPolicy rule → an RBAC policy (used by waypoints for L7 policies). */
export function istioRulePolicy(rule: AuthorizationRule): Obj {
  const principals: Obj[] = [];
  for (const f of rule.from ?? []) {
    const s = f.source ?? {};
    const ids: Obj[] = [];
    if (s.principals?.length)
      ids.push(
        or(s.principals.map((p) => ({ authenticated: { principalName: principalName(p) } }))),
      );
    if (s.notPrincipals?.length)
      ids.push({
        notId: or(
          s.notPrincipals.map((p) => ({ authenticated: { principalName: principalName(p) } })),
        ),
      });
    if (s.namespaces?.length)
      ids.push(
        or(
          s.namespaces.map((n) => ({
            authenticated: {
              principalName: { safeRegex: { regex: `spiffe://[^/]+/ns/${n}/sa/.+` } },
            },
          })),
        ),
      );
    if (s.notNamespaces?.length)
      ids.push({
        notId: or(
          s.notNamespaces.map((n) => ({
            authenticated: {
              principalName: { safeRegex: { regex: `spiffe://[^/]+/ns/${n}/sa/.+` } },
            },
          })),
        ),
      });
    if (s.ipBlocks?.length) ids.push(or(s.ipBlocks.map((c) => ({ directRemoteIp: cidr(c) }))));
    if (s.notIpBlocks?.length)
      ids.push({ notId: or(s.notIpBlocks.map((c) => ({ directRemoteIp: cidr(c) }))) });
    if (s.remoteIpBlocks?.length)
      ids.push(or(s.remoteIpBlocks.map((c) => ({ remoteIp: cidr(c) }))));
    principals.push(and(ids.length ? ids : [{ any: true }]));
  }
  const permissions: Obj[] = [];
  for (const t of rule.to ?? []) {
    const o = t.operation ?? {};
    const rules: Obj[] = [];
    const orRules = (xs: Obj[]) => (xs.length === 1 ? xs[0]! : { orRules: { rules: xs } });
    if (o.methods?.length)
      rules.push(
        orRules(o.methods.map((m) => ({ header: { name: ':method', stringMatch: { exact: m } } }))),
      );
    if (o.notMethods?.length)
      rules.push({
        notRule: orRules(
          o.notMethods.map((m) => ({ header: { name: ':method', stringMatch: { exact: m } } })),
        ),
      });
    if (o.paths?.length)
      rules.push(orRules(o.paths.map((p) => ({ urlPath: { path: pathMatcher(p) } }))));
    if (o.notPaths?.length)
      rules.push({
        notRule: orRules(o.notPaths.map((p) => ({ urlPath: { path: pathMatcher(p) } }))),
      });
    if (o.hosts?.length)
      rules.push(
        orRules(
          o.hosts.map((h) => ({ header: { name: ':authority', stringMatch: pathMatcher(h) } })),
        ),
      );
    if (o.ports?.length) rules.push(orRules(o.ports.map((p) => ({ destinationPort: Number(p) }))));
    if (o.notPorts?.length)
      rules.push({ notRule: orRules(o.notPorts.map((p) => ({ destinationPort: Number(p) }))) });
    permissions.push(
      rules.length === 0 ? { any: true } : rules.length === 1 ? rules[0]! : { andRules: { rules } },
    );
  }
  return {
    permissions: permissions.length ? permissions : [{ any: true }],
    principals: principals.length ? principals : [{ any: true }],
  };
}

function pathMatcher(p: string): Obj {
  if (p === '*') return { safeRegex: { regex: '.*' } };
  if (p.endsWith('*')) return { prefix: p.slice(0, -1) };
  if (p.startsWith('*')) return { suffix: p.slice(1) };
  return { exact: p };
}
