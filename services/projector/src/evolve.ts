import type { Json, JsonObject } from '@shoal/db';

/** One resource of the desired mesh state. Specs are opaque JSON here; services/model validates. */
export interface ResourceRecord {
  readonly cluster: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly spec: JsonObject;
  readonly resourceVersion?: string;
  /** Global position of the event that last changed it. */
  readonly position: number;
  /** When that event was recorded (ISO 8601). */
  readonly updatedAt: string;
}

/** The parts of a stored event the fold reads. */
export interface FoldEvent {
  readonly type: string;
  readonly data: JsonObject;
  readonly position: number;
  readonly recordedAt: Date;
}

/** Desired state: resources by key. */
export type DesiredState = Map<string, ResourceRecord>;

export function resourceKey(r: {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
}): string {
  return `${r.cluster}/${r.kind}/${r.namespace}/${r.name}`;
}

function keyOf(
  data: JsonObject,
): { cluster: string; kind: string; namespace: string; name: string } | undefined {
  const { cluster, kind, namespace, name } = data as Record<string, Json>;
  if (
    typeof cluster !== 'string' ||
    typeof kind !== 'string' ||
    typeof namespace !== 'string' ||
    typeof name !== 'string'
  ) {
    return undefined;
  }
  return { cluster, kind, namespace, name };
}

/**
 * Evolve one resource by one event: the decider-style `evolve`, pure. Each resource is its own
 * little aggregate (one stream per resource), so the fold over the whole log is this function
 * applied per key. Events of other types leave the resource as it is.
 */
export function evolve(
  current: ResourceRecord | undefined,
  event: FoldEvent,
): ResourceRecord | undefined {
  switch (event.type) {
    case 'ResourceUpserted': {
      const key = keyOf(event.data);
      if (!key) return current;
      const rv = event.data.resourceVersion;
      return {
        ...key,
        spec: (event.data.spec ?? {}) as JsonObject,
        ...(typeof rv === 'string' ? { resourceVersion: rv } : {}),
        position: event.position,
        updatedAt: event.recordedAt.toISOString(),
      };
    }
    case 'ResourceDeleted':
      return undefined;
    default:
      return current;
  }
}

/** The key an event changes, if it is a resource event. */
export function affectedKey(event: FoldEvent): string | undefined {
  if (event.type !== 'ResourceUpserted' && event.type !== 'ResourceDeleted') return undefined;
  const key = keyOf(event.data);
  return key && resourceKey(key);
}

/**
 * Fold events into a state, in place (the state can hold a whole fleet; copying it per event
 * would make a rebuild quadratic). Returns the keys that changed.
 */
export function foldInto(
  state: DesiredState,
  events: Iterable<FoldEvent>,
  changed = new Set<string>(),
): Set<string> {
  for (const e of events) {
    const key = affectedKey(e);
    if (key === undefined) continue;
    const next = evolve(state.get(key), e);
    if (next) state.set(key, next);
    else state.delete(key);
    changed.add(key);
  }
  return changed;
}
