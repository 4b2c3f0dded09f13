/**
 * Envoy-Gateway-style policy attachment: which policy applies to a route or gateway (a policy on
 * a route rule beats one on the route, which beats one on the gateway; among policies on the same
 * target the oldest wins), what it resolves to, and its status.
 */
import {
  parseDuration,
  type BackendTrafficPolicy,
  type MeshResource,
  type PlacedResource,
  type PolicyTargetRef,
  type Secret,
  type SecurityPolicy,
} from '@shoal/model';
import type { IRClusterSettings, IRRetry, IRSecurity } from '../ir.js';
import type { Memo } from '../memo.js';
import { Keys } from '../state.js';
import { cond, CONTROLLER_NAME, type ResourceStatus } from '../status.js';
import { referenceAllowed } from './refs.js';

export type PolicyKind = 'BackendTrafficPolicy' | 'SecurityPolicy' | 'ClientTrafficPolicy';
type PolicyOf<K extends PolicyKind> = Extract<MeshResource, { kind: K }>;

const EG_GROUP = 'gateway.envoyproxy.io';

export function targetsOf(spec: {
  targetRef?: PolicyTargetRef;
  targetRefs?: readonly PolicyTargetRef[];
}): PolicyTargetRef[] {
  return [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
}

function olderFirst(a: PlacedResource, b: PlacedResource): number {
  const ta = a.resource.metadata.creationTimestamp ?? '';
  const tb = b.resource.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta === '' ? 1 : tb === '' ? -1 : ta < tb ? -1 : 1;
  const ka = `${a.resource.metadata.namespace}/${a.resource.metadata.name}`;
  const kb = `${b.resource.metadata.namespace}/${b.resource.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The winning policy of `kind` for a target (optionally a section: rule or listener name). */
export function findPolicy<K extends PolicyKind>(
  memo: Memo,
  cluster: string,
  kind: K,
  target: { kind: string; ns: string; name: string; section?: string },
): PlacedResource<PolicyOf<K>> | undefined {
  const all = memo
    .query(Keys.target(cluster, target.kind, target.ns, target.name))
    .filter(
      (p) => p.resource.kind === kind && p.resource.metadata.namespace === target.ns,
    ) as PlacedResource<PolicyOf<K>>[];
  const matching = (withSection: boolean) =>
    all
      .filter((p) =>
        targetsOf((p.resource as PolicyOf<PolicyKind>).spec).some(
          (t) =>
            t.kind === target.kind &&
            t.name === target.name &&
            (withSection
              ? t.sectionName !== undefined && t.sectionName === target.section
              : t.sectionName === undefined),
        ),
      )
      .sort(olderFirst)[0];
  return (target.section !== undefined ? matching(true) : undefined) ?? matching(false);
}

const UNIT_SECONDS = { Second: 1, Minute: 60, Hour: 3600, Day: 86400 } as const;
const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));

export function retryOf(p: BackendTrafficPolicy): IRRetry | undefined {
  const r = p.spec.retry;
  if (!r) return undefined;
  const codes = r.retryOn?.httpStatusCodes ?? [];
  const triggers = [
    ...(r.retryOn?.triggers ??
      (codes.length
        ? []
        : [
            'connect-failure',
            'refused-stream',
            'unavailable',
            'cancelled',
            'retriable-status-codes',
          ])),
  ];
  if (codes.length && !triggers.includes('retriable-status-codes'))
    triggers.push('retriable-status-codes');
  return {
    numRetries: r.numRetries ?? 2,
    retryOn: triggers.join(','),
    statusCodes: codes.length ? codes : triggers.includes('retriable-status-codes') ? [503] : [],
    perTryTimeoutMs: ms(r.perRetry?.timeout),
    baseIntervalMs: ms(r.perRetry?.backOff?.baseInterval),
    maxIntervalMs: ms(r.perRetry?.backOff?.maxInterval),
  };
}

export function rateLimitOf(
  p: BackendTrafficPolicy,
): { requests: number; unitSeconds: number } | undefined {
  const rule = p.spec.rateLimit?.type === 'Local' ? p.spec.rateLimit.local?.rules?.[0] : undefined;
  return rule
    ? { requests: rule.limit.requests, unitSeconds: UNIT_SECONDS[rule.limit.unit] }
    : undefined;
}

export function clusterSettingsOf(
  p: PlacedResource<BackendTrafficPolicy>,
): IRClusterSettings | undefined {
  const s = p.resource.spec;
  if (
    !s.circuitBreaker &&
    !s.loadBalancer &&
    !s.healthCheck &&
    !s.timeout?.tcp &&
    !s.timeout?.http?.connectionIdleTimeout
  )
    return undefined;
  const a = s.healthCheck?.active;
  const pa = s.healthCheck?.passive;
  return {
    policy: `${p.resource.metadata.namespace}/${p.resource.metadata.name}`,
    connectTimeoutMs: ms(s.timeout?.tcp?.connectTimeout),
    idleTimeoutMs: ms(s.timeout?.http?.connectionIdleTimeout),
    circuitBreaker: s.circuitBreaker ? { ...s.circuitBreaker } : undefined,
    lb: s.loadBalancer
      ? {
          type: s.loadBalancer.type,
          hashHeader: s.loadBalancer.consistentHash?.header?.name,
          hashSourceIp: s.loadBalancer.consistentHash?.type === 'SourceIP',
        }
      : undefined,
    activeHealth: a
      ? {
          timeoutMs: ms(a.timeout) ?? 1000,
          intervalMs: ms(a.interval) ?? 3000,
          unhealthy: a.unhealthyThreshold ?? 3,
          healthy: a.healthyThreshold ?? 1,
          httpPath: a.http?.path,
          expected: a.http?.expectedStatuses,
        }
      : undefined,
    passiveHealth: pa
      ? {
          consecutive5xx: pa.consecutive5XxErrors,
          consecutiveGateway: pa.consecutiveGatewayErrors,
          intervalMs: ms(pa.interval),
          baseEjectionMs: ms(pa.baseEjectionTime),
          maxEjectionPercent: pa.maxEjectionPercent,
        }
      : undefined,
  };
}

/** Resolve a SecurityPolicy; an unresolvable one fails closed (`failClosed` set). */
export function resolveSecurity(
  memo: Memo,
  cluster: string,
  p: PlacedResource<SecurityPolicy>,
): IRSecurity {
  const ns = p.resource.metadata.namespace ?? 'default';
  const policy = `${ns}/${p.resource.metadata.name}`;
  const spec = p.resource.spec;
  const base = { policy, spec, jwtProviders: spec.jwt?.providers ?? [] };
  if (!spec.basicAuth) return base;
  const ref = spec.basicAuth.users;
  const sns = ref.namespace ?? ns;
  if (
    !referenceAllowed(
      memo,
      cluster,
      { group: EG_GROUP, kind: 'SecurityPolicy', ns },
      { group: '', kind: 'Secret', ns: sns, name: ref.name },
    )
  )
    return {
      ...base,
      failClosed: `basicAuth Secret ${sns}/${ref.name}: no ReferenceGrant allows SecurityPolicies from ${ns}`,
    };
  const secret = memo.one<Secret>('Secret', cluster, sns, ref.name)?.resource;
  const raw =
    secret?.stringData?.['.htpasswd'] ??
    (secret?.data?.['.htpasswd'] !== undefined
      ? Buffer.from(secret.data['.htpasswd'], 'base64').toString('utf8')
      : undefined);
  if (raw === undefined)
    return {
      ...base,
      failClosed: `basicAuth Secret ${sns}/${ref.name} ${secret ? 'has no .htpasswd key' : 'not found'}`,
    };
  return { ...base, htpasswd: raw };
}

const POLICY_TARGET_KINDS: Record<PolicyKind, string[]> = {
  BackendTrafficPolicy: ['Gateway', 'HTTPRoute', 'GRPCRoute', 'TCPRoute', 'TLSRoute'],
  SecurityPolicy: ['Gateway', 'HTTPRoute', 'GRPCRoute'],
  ClientTrafficPolicy: ['Gateway'],
};

/** Gateway API policy status: one ancestor entry per targetRef. */
export function policyStatus(
  memo: Memo,
  cluster: string,
  p: PlacedResource<PolicyOf<PolicyKind>>,
): ResourceStatus {
  const kind = p.resource.kind as PolicyKind;
  const ns = p.resource.metadata.namespace ?? 'default';
  const self = `${ns}/${p.resource.metadata.name}`;
  const invalid =
    kind === 'SecurityPolicy'
      ? resolveSecurity(memo, cluster, p as PlacedResource<SecurityPolicy>).failClosed
      : undefined;
  const ancestors = targetsOf(p.resource.spec).map((t) => {
    const ref = {
      group: t.group ?? 'gateway.networking.k8s.io',
      kind: t.kind,
      namespace: ns,
      name: t.name,
      ...(t.sectionName ? { sectionName: t.sectionName } : {}),
    };
    const at = (ok: boolean, reason: string, message: string) => ({
      parentRef: ref,
      controllerName: CONTROLLER_NAME,
      conditions: [cond('Accepted', ok, reason, message)],
    });
    if (!POLICY_TARGET_KINDS[kind].includes(t.kind))
      return at(false, 'Invalid', `${kind} cannot target a ${t.kind}`);
    if (!memo.one(t.kind as MeshResource['kind'], cluster, ns, t.name))
      return at(false, 'TargetNotFound', `${t.kind} ${ns}/${t.name} not found`);
    const winner = findPolicy(memo, cluster, kind, {
      kind: t.kind,
      ns,
      name: t.name,
      section: t.sectionName,
    });
    const winnerKey = winner
      ? `${winner.resource.metadata.namespace}/${winner.resource.metadata.name}`
      : self;
    if (winnerKey !== self)
      return at(
        false,
        'Conflicted',
        `${kind} ${winnerKey} is older and targets the same ${t.kind}`,
      );
    if (invalid)
      return at(false, 'Invalid', `${invalid}; the targeted routes answer 500 until this is fixed`);
    return at(true, 'Accepted', 'policy applied');
  });
  return { key: `${kind}/${ns}/${p.resource.metadata.name}`, ancestors };
}
