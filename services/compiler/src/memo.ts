/**
 * Memoized compilation units with dynamic dependency tracking (as build systems like Salsa do):
 * a unit records every index key it reads, including the keys read by units it calls; a
 * change invalidates exactly the units that read a key the change touched.
 */
import type { MeshResource, PlacedResource } from '@shoal/model';
import { Keys, type FleetState, type View } from './state.js';

interface Entry {
  readonly value: unknown;
  readonly deps: ReadonlySet<string>;
}

export class Memo implements View {
  private readonly entries = new Map<string, Entry>();
  private readonly dependents = new Map<string, Set<string>>();
  private readonly stack: Set<string>[] = [];
  /** Units computed (not served from cache) since the last reset; for tests and benchmarks. */
  computed = 0;

  constructor(private readonly state: FleetState) {}

  query(indexKey: string): readonly PlacedResource[] {
    this.stack[this.stack.length - 1]?.add(indexKey);
    return this.state.query(indexKey);
  }

  one<R extends MeshResource>(
    kind: R['kind'],
    cluster: string,
    ns: string,
    name: string,
  ): PlacedResource<R> | undefined {
    return this.query(Keys.exact(kind, cluster, ns, name))[0] as PlacedResource<R> | undefined;
  }

  unit<T>(key: string, compute: () => T): T {
    const parent = this.stack[this.stack.length - 1];
    const hit = this.entries.get(key);
    if (hit) {
      if (parent) for (const d of hit.deps) parent.add(d);
      return hit.value as T;
    }
    const deps = new Set<string>();
    this.stack.push(deps);
    let value: T;
    try {
      value = compute();
    } finally {
      this.stack.pop();
    }
    this.computed++;
    this.entries.set(key, { value, deps });
    for (const d of deps) {
      let s = this.dependents.get(d);
      if (!s) this.dependents.set(d, (s = new Set()));
      s.add(key);
    }
    if (parent) for (const d of deps) parent.add(d);
    return value;
  }

  invalidate(touched: Iterable<string>): number {
    let n = 0;
    for (const k of touched) {
      const units = this.dependents.get(k);
      if (!units) continue;
      for (const u of [...units]) {
        const e = this.entries.get(u);
        if (!e) continue;
        this.entries.delete(u);
        n++;
        for (const d of e.deps) this.dependents.get(d)?.delete(u);
      }
    }
    return n;
  }
}
