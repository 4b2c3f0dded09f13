import {
  contentHash,
  parseResourceKey,
  resourceKey,
  type Ledger,
  type ObservedResource,
  type ResourceRef,
} from './resource.js';

export type Change =
  | { readonly op: 'upsert'; readonly resource: ObservedResource; readonly hash: string }
  | { readonly op: 'delete'; readonly ref: ResourceRef };

/** Which ledger entries a full listing speaks for: everything, or only some kinds. */
export type Scope = { readonly kinds: ReadonlySet<string> } | 'all';

function inScope(scope: Scope, kind: string): boolean {
  return scope === 'all' || scope.kinds.has(kind);
}

/** An upsert, unless the ledger already holds exactly this content. */
export function diffOne(ledger: Ledger, resource: ObservedResource): Change | undefined {
  const hash = contentHash(resource);
  return ledger.get(resourceKey(resource))?.hash === hash
    ? undefined
    : { op: 'upsert', resource, hash };
}

/** A delete, unless the ledger does not know the resource (already deleted or never reported). */
export function diffDelete(ledger: Ledger, ref: ResourceRef): Change | undefined {
  return ledger.has(resourceKey(ref)) ? { op: 'delete', ref } : undefined;
}

/**
 * Resync: compare a full listing with what was last reported and return only the differences,
 * including deletions of resources that disappeared while nobody was watching. Pure.
 */
export function diffListing(
  ledger: Ledger,
  listing: readonly ObservedResource[],
  scope: Scope,
): Change[] {
  const changes: Change[] = [];
  const seen = new Set<string>();
  for (const r of listing) {
    const key = resourceKey(r);
    if (seen.has(key)) continue;
    seen.add(key);
    const c = diffOne(ledger, r);
    if (c) changes.push(c);
  }
  for (const key of [...ledger.keys()].sort()) {
    if (seen.has(key)) continue;
    const ref = parseResourceKey(key);
    if (inScope(scope, ref.kind)) changes.push({ op: 'delete', ref });
  }
  return changes;
}

/** Apply a change to the ledger (after it has been made durable). */
export function applyToLedger(ledger: Ledger, change: Change): void {
  if (change.op === 'upsert') {
    ledger.set(resourceKey(change.resource), {
      hash: change.hash,
      ...(change.resource.resourceVersion !== undefined
        ? { resourceVersion: change.resource.resourceVersion }
        : {}),
    });
  } else {
    ledger.delete(resourceKey(change.ref));
  }
}
