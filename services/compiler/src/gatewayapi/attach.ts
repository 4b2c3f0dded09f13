/**
 * Route attachment (Gateway API semantics): does a route attach to the parent it names, on which
 * listeners, under which hostnames; and the route's status per parentRef.
 */
import type {
  BackendRef,
  GRPCRoute,
  HTTPRoute,
  ParentReference,
  PlacedResource,
  Service,
  TCPRoute,
  TLSRoute,
} from '@shoal/model';
import type { Memo } from '../memo.js';
import { cond, CONTROLLER_NAME, type Condition, type ResourceStatus } from '../status.js';
import { serviceDefs } from './context.js';
import {
  gatewayInfo,
  intersectHostnames,
  listenerAllows,
  type GatewayInfo,
  type ListenerInfo,
} from './gateway.js';
import { GW_GROUP, resolveBackends, resolvedRefsCondition } from './refs.js';

export type AnyRoute = HTTPRoute | GRPCRoute | TCPRoute | TLSRoute;

export interface Attachment {
  readonly accepted: Condition;
  /** Set when the parent is a Gateway and the route attached to at least one listener. */
  readonly gateway?: GatewayInfo;
  readonly listeners: readonly {
    readonly info: ListenerInfo;
    readonly hostnames: readonly string[];
  }[];
  /** Set when the parent is a Service (GAMMA / mesh). */
  readonly service?: { readonly ns: string; readonly name: string; readonly port?: number };
}

export function isServiceParent(ref: ParentReference): boolean {
  return (ref.kind ?? 'Gateway') === 'Service' && (ref.group ?? GW_GROUP) === '';
}

export function attach(
  memo: Memo,
  cluster: string,
  route: PlacedResource<AnyRoute>,
  ref: ParentReference,
): Attachment {
  const r = route.resource;
  const routeNs = r.metadata.namespace ?? 'default';
  const ns = ref.namespace ?? routeNs;
  const kind = ref.kind ?? 'Gateway';
  const group = ref.group ?? GW_GROUP;
  const none = (reason: string, message: string): Attachment => ({
    accepted: cond('Accepted', false, reason, message),
    listeners: [],
  });
  if (kind === 'Service' && (group === '' || group === 'core')) {
    if (r.kind === 'TLSRoute')
      return none('UnsupportedValue', 'TLSRoutes cannot attach to a Service');
    if (serviceDefs(memo, ns, ref.name).length === 0)
      return none('NoMatchingParent', `Service ${ns}/${ref.name} not found`);
    const svc = serviceDefs(memo, ns, ref.name)[0]!.resource as Service;
    if (ref.port !== undefined && !(svc.spec.ports ?? []).some((p) => p.port === ref.port))
      return none('NoMatchingParent', `Service ${ns}/${ref.name} has no port ${ref.port}`);
    return {
      accepted: cond('Accepted', true, 'Accepted'),
      listeners: [],
      service: { ns, name: ref.name, ...(ref.port !== undefined ? { port: ref.port } : {}) },
    };
  }
  if (kind !== 'Gateway' || group !== GW_GROUP)
    return none('NoMatchingParent', `parentRef kind ${kind}.${group} is not supported`);
  const gw = gatewayInfo(memo, cluster, ns, ref.name);
  if (!gw) return none('NoMatchingParent', `Gateway ${ns}/${ref.name} not found`);
  if (!gw.accepted) return none('NoMatchingParent', `Gateway ${ns}/${ref.name} is not accepted`);
  let candidates = gw.listeners.filter((l) => l.valid);
  if (ref.sectionName !== undefined)
    candidates = candidates.filter((l) => l.listener.name === ref.sectionName);
  if (ref.port !== undefined) candidates = candidates.filter((l) => l.listener.port === ref.port);
  if (candidates.length === 0)
    return none(
      'NoMatchingParent',
      `Gateway ${ns}/${ref.name} has no valid listener matching sectionName/port`,
    );
  const allowed = candidates.filter((l) => listenerAllows(memo, cluster, ns, l, r.kind, routeNs));
  if (allowed.length === 0)
    return none(
      'NotAllowedByListeners',
      `no listener of Gateway ${ns}/${ref.name} allows ${r.kind}s from namespace ${routeNs}`,
    );
  const routeHosts = r.kind === 'TCPRoute' ? undefined : r.spec.hostnames;
  const listeners = allowed
    .map((info) => ({
      info,
      hostnames:
        r.kind === 'TCPRoute' ? ['*'] : intersectHostnames(info.listener.hostname, routeHosts),
    }))
    .filter((l): l is { info: ListenerInfo; hostnames: string[] } => l.hostnames !== undefined);
  if (listeners.length === 0)
    return none(
      'NoMatchingListenerHostname',
      `no listener hostname of Gateway ${ns}/${ref.name} matches the route's hostnames`,
    );
  return { accepted: cond('Accepted', true, 'Accepted'), gateway: gw, listeners };
}

export function ruleBackendRefs(r: AnyRoute): readonly (readonly BackendRef[])[] {
  return (r.spec.rules ?? []).map((rule) => rule.backendRefs ?? []);
}

/** Backend refs of mirror filters too, so that their problems show in ResolvedRefs. */
function allRefs(r: AnyRoute): BackendRef[] {
  const refs: BackendRef[] = [];
  for (const rule of r.spec.rules ?? []) {
    refs.push(...(rule.backendRefs ?? []));
    for (const f of (rule as { filters?: { requestMirror?: { backendRef: BackendRef } }[] })
      .filters ?? [])
      if (f.requestMirror) refs.push({ ...f.requestMirror.backendRef, weight: 1 });
  }
  return refs;
}

export function routeStatus(
  memo: Memo,
  cluster: string,
  route: PlacedResource<AnyRoute>,
): ResourceStatus {
  const r = route.resource;
  const ns = r.metadata.namespace ?? 'default';
  const refs = resolveBackends(memo, cluster, { kind: r.kind, ns }, allRefs(r));
  const resolved = resolvedRefsCondition(refs.problems);
  const parents = (r.spec.parentRefs ?? []).map((ref) => {
    const a = attach(memo, cluster, route, ref);
    return {
      parentRef: {
        group: ref.group ?? GW_GROUP,
        kind: ref.kind ?? 'Gateway',
        namespace: ref.namespace ?? ns,
        name: ref.name,
        ...(ref.sectionName !== undefined ? { sectionName: ref.sectionName } : {}),
        ...(ref.port !== undefined ? { port: ref.port } : {}),
      },
      controllerName: CONTROLLER_NAME,
      conditions: [a.accepted, resolved],
    };
  });
  return { key: `${r.kind}/${ns}/${r.metadata.name}`, parents };
}
