/** References between objects: ReferenceGrant checks and backendRef resolution. */
import type { BackendRef, PlacedResource, ReferenceGrant, Service } from '@shoal/model';
import { Keys, type View } from '../state.js';
import { cond, type Condition } from '../status.js';
import { serviceDefs, serviceHost } from './context.js';

export const GW_GROUP = 'gateway.networking.k8s.io';

/** Is an object in `fromNs` allowed to refer to `toKind` `toName` in `toNs`? */
export function referenceAllowed(
  view: View,
  cluster: string,
  from: { group: string; kind: string; ns: string },
  to: { group: string; kind: string; ns: string; name: string },
): boolean {
  if (from.ns === to.ns) return true;
  for (const g of view.query(
    Keys.inNamespace('ReferenceGrant', cluster, to.ns),
  ) as readonly PlacedResource<ReferenceGrant>[]) {
    const s = g.resource.spec;
    const fromOk = s.from.some(
      (f) => f.group === from.group && f.kind === from.kind && f.namespace === from.ns,
    );
    const toOk = s.to.some(
      (t) =>
        t.group === to.group && t.kind === to.kind && (t.name === undefined || t.name === to.name),
    );
    if (fromOk && toOk) return true;
  }
  return false;
}

export interface ResolvedBackend {
  readonly ns: string;
  readonly name: string;
  readonly port: number;
  readonly weight: number;
  readonly host: string;
  readonly service: Service;
}

export interface BackendResolution {
  readonly backends: readonly ResolvedBackend[];
  /** Total weight of refs that could not be resolved (they get a 500, as the spec says). */
  readonly invalidWeight: number;
  readonly problems: readonly { reason: string; message: string }[];
}

export function resolveBackends(
  view: View,
  cluster: string,
  route: { kind: string; ns: string },
  refs: readonly BackendRef[],
): BackendResolution {
  const backends: ResolvedBackend[] = [];
  const problems: { reason: string; message: string }[] = [];
  let invalidWeight = 0;
  for (const ref of refs) {
    const weight = ref.weight ?? 1;
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Service';
    const ns = ref.namespace ?? route.ns;
    const bad = (reason: string, message: string) => {
      problems.push({ reason, message });
      invalidWeight += weight;
    };
    if (!((group === '' || group === 'core') && kind === 'Service')) {
      bad(
        'InvalidKind',
        `backendRef ${kind}.${group || 'core'} ${ns}/${ref.name}: only Services are supported`,
      );
      continue;
    }
    if (
      !referenceAllowed(
        view,
        cluster,
        { group: GW_GROUP, kind: route.kind, ns: route.ns },
        { group: '', kind: 'Service', ns, name: ref.name },
      )
    ) {
      bad(
        'RefNotPermitted',
        `backendRef Service ${ns}/${ref.name}: no ReferenceGrant in namespace ${ns} allows ${route.kind}s from ${route.ns}`,
      );
      continue;
    }
    const defs = serviceDefs(view, ns, ref.name);
    const svc = defs.find((d) => d.cluster === cluster) ?? defs[0];
    if (!svc) {
      bad('BackendNotFound', `backendRef Service ${ns}/${ref.name} not found in any cluster`);
      continue;
    }
    const port = ref.port ?? 0;
    if (!(svc.resource.spec.ports ?? []).some((p) => p.port === port)) {
      bad('BackendNotFound', `backendRef Service ${ns}/${ref.name} has no port ${port}`);
      continue;
    }
    if (weight === 0) continue;
    backends.push({
      ns,
      name: ref.name,
      port,
      weight,
      host: serviceHost(view, cluster, ns, ref.name),
      service: svc.resource,
    });
  }
  return { backends, invalidWeight, problems };
}

export function resolvedRefsCondition(
  problems: readonly { reason: string; message: string }[],
): Condition {
  const first = problems[0];
  return first
    ? cond('ResolvedRefs', false, first.reason, problems.map((p) => p.message).join('; '))
    : cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved');
}
