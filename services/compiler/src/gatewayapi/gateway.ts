/**
 * Gateway analysis (stage 1 of the translation): which listeners are valid, what they accept,
 * which certificates they use and where the Gateway runs. Shared by route status, policy status
 * and the L7 translation, memoized per Gateway.
 */
import {
  matchesSelector,
  type Gateway,
  type GatewayListener,
  type Namespace,
  type PlacedResource,
  type Secret,
  type Workload,
} from '@shoal/model';
import type { Memo } from '../memo.js';
import { HBONE_PORT, WAYPOINT_CLASS } from '../names.js';
import { Keys } from '../state.js';
import { cond, type Condition, type ListenerStatus } from '../status.js';
import { GW_GROUP, referenceAllowed } from './refs.js';

const KINDS_BY_PROTOCOL: Record<string, string[]> = {
  HTTP: ['HTTPRoute', 'GRPCRoute'],
  HTTPS: ['HTTPRoute', 'GRPCRoute'],
  TLS: ['TLSRoute', 'TCPRoute'],
  TCP: ['TCPRoute'],
  HBONE: [],
};

export interface ListenerInfo {
  readonly listener: GatewayListener;
  readonly valid: boolean;
  readonly kinds: readonly string[];
  readonly conditions: readonly Condition[];
  /** Resolved TLS certificate Secrets (namespace/name) for termination. */
  readonly certificates: readonly PlacedResource<Secret>[];
}

export interface GatewayInfo {
  readonly gateway: PlacedResource<Gateway>;
  readonly ns: string;
  readonly isWaypoint: boolean;
  readonly accepted: boolean;
  readonly conditions: readonly Condition[];
  readonly listeners: readonly ListenerInfo[];
  /** Workloads (pods) running this Gateway, sorted; their nodes host its L7 config. */
  readonly hosts: readonly PlacedResource<Workload>[];
}

export function gatewayInfo(
  memo: Memo,
  cluster: string,
  ns: string,
  name: string,
): GatewayInfo | undefined {
  return memo.unit(`gwinfo|${cluster}|${ns}|${name}`, () => {
    const gw = memo.one<Gateway>('Gateway', cluster, ns, name);
    if (!gw) return undefined;
    const spec = gw.resource.spec;
    const isWaypoint = spec.gatewayClassName === WAYPOINT_CLASS;
    const classOk =
      isWaypoint || memo.one('GatewayClass', cluster, '', spec.gatewayClassName) !== undefined;
    const hosts = memo.query(Keys.host(cluster, ns, name)) as readonly PlacedResource<Workload>[];
    const conflicts = portConflicts(spec.listeners);
    const listeners = spec.listeners.map((l) =>
      analyzeListener(memo, cluster, ns, l, isWaypoint, conflicts.get(l.name)),
    );
    const conditions: Condition[] = [];
    let accepted = classOk;
    if (!classOk)
      conditions.push(
        cond(
          'Accepted',
          false,
          'InvalidParameters',
          `GatewayClass "${spec.gatewayClassName}" not found`,
        ),
      );
    else if (
      isWaypoint &&
      !spec.listeners.some((l) => l.protocol === 'HBONE' && l.port === HBONE_PORT)
    ) {
      accepted = false;
      conditions.push(
        cond(
          'Accepted',
          false,
          'UnsupportedValue',
          `a waypoint needs a listener with protocol HBONE on port ${HBONE_PORT}`,
        ),
      );
    } else if (listeners.some((l) => !l.valid))
      conditions.push(
        cond(
          'Accepted',
          true,
          'ListenersNotValid',
          `invalid listeners: ${listeners
            .filter((l) => !l.valid)
            .map((l) => l.listener.name)
            .join(', ')}`,
        ),
      );
    else conditions.push(cond('Accepted', true, 'Accepted', ''));
    if (!accepted)
      conditions.push(cond('Programmed', false, 'Invalid', 'the Gateway is not accepted'));
    else if (hosts.length === 0)
      conditions.push(
        cond(
          'Programmed',
          false,
          'NoResources',
          `no Workload has label gateway.networking.k8s.io/gateway-name=${name} in ${ns}`,
        ),
      );
    else
      conditions.push(
        cond(
          'Programmed',
          true,
          'Programmed',
          `hosted on ${[...new Set(hosts.map((h) => h.resource.spec.node))].sort().join(', ')}`,
        ),
      );
    return { gateway: gw, ns, isWaypoint, accepted, conditions, listeners, hosts };
  });
}

function portConflicts(listeners: readonly GatewayListener[]): Map<string, Condition> {
  const out = new Map<string, Condition>();
  const byPort = new Map<number, GatewayListener[]>();
  for (const l of listeners) byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  for (const group of byPort.values()) {
    const protocols = new Set(
      group.map((l) => (l.protocol === 'HTTPS' || l.protocol === 'TLS' ? 'tls' : l.protocol)),
    );
    for (const l of group) {
      if (protocols.size > 1)
        out.set(
          l.name,
          cond(
            'Conflicted',
            true,
            'ProtocolConflict',
            `port ${l.port} is used with different protocols`,
          ),
        );
      else if (group.some((o) => o !== l && (o.hostname ?? '') === (l.hostname ?? '')))
        out.set(
          l.name,
          cond(
            'Conflicted',
            true,
            'HostnameConflict',
            `another listener on port ${l.port} has the same hostname`,
          ),
        );
    }
  }
  return out;
}

function analyzeListener(
  memo: Memo,
  cluster: string,
  ns: string,
  l: GatewayListener,
  isWaypoint: boolean,
  conflict: Condition | undefined,
): ListenerInfo {
  const conditions: Condition[] = [];
  const supported = KINDS_BY_PROTOCOL[l.protocol];
  let valid = true;
  if (!supported || (l.protocol === 'HBONE') !== isWaypoint) {
    valid = false;
    conditions.push(
      cond(
        'Accepted',
        false,
        'UnsupportedProtocol',
        `protocol ${l.protocol} is not supported${isWaypoint ? ' on a waypoint' : ''}`,
      ),
    );
  } else if (conflict) {
    valid = false;
    conditions.push(cond('Accepted', false, conflict.reason, conflict.message));
  } else conditions.push(cond('Accepted', true, 'Accepted'));
  conditions.push(conflict ?? cond('Conflicted', false, 'NoConflicts'));
  let kinds = supported ?? [];
  const wanted = l.allowedRoutes?.kinds;
  let refsOk: Condition = cond('ResolvedRefs', true, 'ResolvedRefs');
  if (wanted) {
    const ok = wanted
      .filter((k) => (k.group ?? GW_GROUP) === GW_GROUP && kinds.includes(k.kind))
      .map((k) => k.kind);
    if (ok.length < wanted.length)
      refsOk = cond(
        'ResolvedRefs',
        false,
        'InvalidRouteKinds',
        `unsupported route kinds: ${wanted
          .filter((k) => !ok.includes(k.kind))
          .map((k) => k.kind)
          .join(', ')}`,
      );
    kinds = ok;
  }
  const certificates: PlacedResource<Secret>[] = [];
  if (l.tls && (l.tls.mode ?? 'Terminate') === 'Terminate') {
    for (const ref of l.tls.certificateRefs ?? []) {
      const sns = ref.namespace ?? ns;
      if ((ref.kind ?? 'Secret') !== 'Secret' || (ref.group ?? '') !== '') {
        refsOk = cond(
          'ResolvedRefs',
          false,
          'InvalidCertificateRef',
          `certificateRef ${ref.kind}/${ref.name}: only core Secrets are supported`,
        );
        continue;
      }
      if (
        !referenceAllowed(
          memo,
          cluster,
          { group: GW_GROUP, kind: 'Gateway', ns },
          { group: '', kind: 'Secret', ns: sns, name: ref.name },
        )
      ) {
        refsOk = cond(
          'ResolvedRefs',
          false,
          'RefNotPermitted',
          `certificateRef Secret ${sns}/${ref.name}: no ReferenceGrant allows Gateways from ${ns}`,
        );
        continue;
      }
      const s = memo.one<Secret>('Secret', cluster, sns, ref.name);
      const data = { ...(s?.resource.data ?? {}), ...(s?.resource.stringData ?? {}) };
      if (!s || !data['tls.crt'] || !data['tls.key']) {
        refsOk = cond(
          'ResolvedRefs',
          false,
          'InvalidCertificateRef',
          `certificateRef Secret ${sns}/${ref.name} ${s ? 'lacks tls.crt or tls.key' : 'not found'}`,
        );
        continue;
      }
      certificates.push(s);
    }
    if (certificates.length === 0) valid = false;
  }
  conditions.push(refsOk);
  conditions.push(cond('Programmed', valid, valid ? 'Programmed' : 'Invalid'));
  return { listener: l, valid, kinds, conditions, certificates };
}

/** Does `listener` let a route of `kind` from namespace `routeNs` attach? */
export function listenerAllows(
  memo: Memo,
  cluster: string,
  gwNs: string,
  info: ListenerInfo,
  kind: string,
  routeNs: string,
): boolean {
  if (!info.kinds.includes(kind)) return false;
  const from = info.listener.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return routeNs === gwNs;
  const nsObj = memo.one<Namespace>('Namespace', cluster, '', routeNs);
  return matchesSelector(
    info.listener.allowedRoutes?.namespaces?.selector ?? {},
    nsObj?.resource.metadata.labels,
  );
}

export function listenerStatuses(
  info: GatewayInfo,
  attached: ReadonlyMap<string, number>,
): ListenerStatus[] {
  return info.listeners.map((l) => ({
    name: l.listener.name,
    attachedRoutes: attached.get(l.listener.name) ?? 0,
    supportedKinds: l.kinds.map((kind) => ({ group: GW_GROUP, kind })),
    conditions: l.conditions,
  }));
}

/** Hostnames a route serves on a listener; undefined when they do not intersect. */
export function intersectHostnames(
  listenerHost: string | undefined,
  routeHosts: readonly string[] | undefined,
): string[] | undefined {
  const hosts = routeHosts ?? [];
  if (!listenerHost) return hosts.length ? [...hosts] : ['*'];
  if (hosts.length === 0) return [listenerHost];
  const out = new Set<string>();
  for (const h of hosts) {
    if (h === listenerHost || wildcardMatch(listenerHost, h)) out.add(h);
    else if (wildcardMatch(h, listenerHost)) out.add(listenerHost);
  }
  return out.size ? [...out].sort() : undefined;
}

function wildcardMatch(pattern: string, host: string): boolean {
  return (
    pattern.startsWith('*.') && host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
  );
}
