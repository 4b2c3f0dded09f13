/**
 * Property tests: (1) the same desired state in any order and with any key order compiles to
 * the same versions and bytes; (2) an IncrementalCompiler fed a random sequence of upserts and
 * deletes produces exactly what a full compile of the resulting state produces.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resourceKey, type PlacedResource } from '@shoal/model';
import { compileFleet, IncrementalCompiler, type FleetConfig } from './compiler.js';
import { parseCase } from './testing.js';

const dir = join(import.meta.dirname, '..', 'testdata');
const POOL_CASES = [
  'http-basic',
  'precedence-match-order',
  'btp-route-overrides-gateway',
  'security-basic-auth',
  'waypoint-service-label',
  'waypoint-namespace-label',
  'authz-l4-allow',
  'peer-authentication-strict',
  'multicluster-namespace-sameness',
  'proxyless-gamma-weighted',
  'tcp-route',
  'https-termination',
  'reference-grant-allows',
  'bad-route-isolated',
];
const all = readdirSync(dir);
const pool: PlacedResource[] = [];
const seen = new Set<string>();
for (const c of POOL_CASES.filter((c) => all.includes(`${c}.in.yaml`))) {
  for (const p of parseCase(readFileSync(join(dir, `${c}.in.yaml`), 'utf8'), c).state) {
    // Keep distinct variants of the same key too: switching between them is an update.
    const k = `${resourceKey(p)}#${JSON.stringify(p.resource)}`;
    if (seen.has(k)) continue;
    pool.push(p);
    seen.add(k);
  }
}

function summary(out: FleetConfig): unknown {
  return {
    errors: out.errors,
    clusters: [...out.clusters.values()].map((c) => ({
      cluster: c.cluster,
      version: c.version,
      status: c.status,
      nodes: [...c.nodes.entries()].map(([n, b]) => [
        n,
        b.version,
        b.resources.map((r) => `${r.typeUrl} ${r.name} ${r.version}`),
      ]),
    })),
  };
}

function shuffleKeys(v: unknown, rnd: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, rnd));
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).sort(() => rnd() - 0.5);
    return Object.fromEntries(entries.map(([k, x]) => [k, shuffleKeys(x, rnd)]));
  }
  return v;
}

/** State after applying resources in order (later upserts of a key replace earlier ones). */
function finalState(list: readonly PlacedResource[]): PlacedResource[] {
  const m = new Map<string, PlacedResource>();
  for (const p of list) m.set(resourceKey(p), p);
  return [...m.values()];
}

describe('compiler properties', () => {
  it('is deterministic: shuffled resource order and key order give the same versions', () => {
    fc.assert(
      fc.property(fc.subarray(pool, { minLength: 1 }), fc.integer(), (subset, seed) => {
        const state = finalState(subset);
        let s = seed;
        const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
        const shuffled = [...state]
          .sort(() => rnd() - 0.5)
          .map((p) => ({
            cluster: p.cluster,
            resource: shuffleKeys(p.resource, rnd) as PlacedResource['resource'],
          }));
        assert.deepEqual(summary(compileFleet(shuffled)), summary(compileFleet(state)));
      }),
      { numRuns: 25 },
    );
  });

  it('incremental compile equals full compile over random change sequences', () => {
    const change = fc.oneof(
      fc.record({ type: fc.constant('upsert' as const), resource: fc.constantFrom(...pool) }),
      fc.record({ type: fc.constant('delete' as const), resource: fc.constantFrom(...pool) }),
    );
    fc.assert(
      fc.property(
        fc.subarray(pool),
        fc.array(change, { minLength: 1, maxLength: 12 }),
        (initial, changes) => {
          const inc = new IncrementalCompiler().load(initial);
          inc.output();
          const current = new Map(finalState(initial).map((p) => [resourceKey(p), p]));
          for (const c of changes) {
            const key = resourceKey(c.resource);
            if (c.type === 'upsert') {
              inc.apply({ type: 'upsert', resource: c.resource });
              current.set(key, c.resource);
            } else {
              inc.apply({ type: 'delete', key });
              current.delete(key);
            }
            assert.deepEqual(summary(inc.output()), summary(compileFleet(current.values())));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('an incremental change recomputes only the units it affects', () => {
    const inc = new IncrementalCompiler().load(pool);
    inc.output();
    const before = inc.computedUnits;
    const route = pool.find((p) => p.resource.kind === 'HTTPRoute')!;
    const changed = {
      ...route,
      resource: {
        ...route.resource,
        metadata: { ...route.resource.metadata, labels: { touched: 'yes' } },
      },
    } as PlacedResource;
    inc.apply({ type: 'upsert', resource: changed });
    inc.output();
    const recomputed = inc.computedUnits - before;
    const full = new IncrementalCompiler().load(finalState([...pool, changed]));
    full.output();
    assert.ok(
      recomputed > 0 && recomputed < full.computedUnits / 4,
      `recomputed ${recomputed} of ${full.computedUnits} units`,
    );
  });
});
