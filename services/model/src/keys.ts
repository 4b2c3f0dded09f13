import { KINDS } from './kinds/index.js';
import type { MeshResource, PlacedResource } from './types.js';

export function isNamespaced(kind: string): boolean {
  return KINDS.get(kind)?.namespaced ?? true;
}

/** The namespace of a resource ('' for cluster-scoped kinds). */
export function namespaceOf(r: MeshResource): string {
  return isNamespaced(r.kind) ? (r.metadata.namespace ?? 'default') : '';
}

/** Identity of a resource in the desired state: "<cluster>/<kind>/<namespace>/<name>". */
export function resourceKey(p: PlacedResource): string {
  return `${p.cluster}/${p.resource.kind}/${namespaceOf(p.resource)}/${p.resource.metadata.name}`;
}
