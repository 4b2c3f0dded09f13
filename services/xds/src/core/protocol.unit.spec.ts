/**
 * Property tests of both protocol state machines against a simulated Envoy-like client that
 * subscribes to CDS and LDS (wildcard) and to the EDS/RDS names it learns, applies every
 * response in order and ACKs (or, in the second property, randomly NACKs) it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TypeUrls, type XdsResource } from '@shoal/proto';
import { weightedService } from '../testing/fixtures.js';
import { DeltaStream } from './delta.js';
import {
  clusterEdsNames,
  listenerRoutes,
  routeClusters,
  snapshotOf,
  type Snapshot,
} from './snapshot.js';
import { SotwStream } from './sotw.js';
import type { DeltaResponse, SotwResponse, StreamEvent } from './types.js';

const T = TypeUrls;
const POOL = ['c0', 'c1', 'c2', 'c3', 'c4'];

/** A consistent snapshot: clusters ⊇ the ones the route names. */
const arbSnapshot = fc
  .record({
    clusters: fc.subarray(POOL, { minLength: 1 }),
    weight: fc.integer({ min: 1, max: 9 }),
    port: fc.integer({ min: 1000, max: 1003 }),
  })
  .map(({ clusters, weight, port }) =>
    weightedService({
      listener: 'svc',
      route: 'r',
      backends: clusters.map((c, i) => ({
        cluster: c,
        port: port + i,
        weight: i === 0 ? weight : 1,
      })),
    }),
  );

type View = Map<string, Map<string, XdsResource>>;

function brokenRefs(view: View): string[] {
  const clusters = view.get(T.cluster) ?? new Map();
  const out: string[] = [];
  for (const r of view.get(T.route)?.values() ?? []) {
    for (const c of routeClusters(r)) if (!clusters.has(c)) out.push(`route → ${c}`);
  }
  return out;
}

interface Client {
  readonly view: View;
  readonly nonces: string[];
  readonly events: StreamEvent[];
  violations: string[];
}

const newClient = (): Client => ({ view: new Map(), nonces: [], events: [], violations: [] });

function edsNames(view: View): string[] {
  return [...(view.get(T.cluster)?.values() ?? [])].flatMap((c) => [...clusterEdsNames(c)]).sort();
}
function rdsNames(view: View): string[] {
  return [...(view.get(T.listener)?.values() ?? [])].flatMap((l) => [...listenerRoutes(l)]).sort();
}

/** SotW: process responses until quiet; the client re-subscribes EDS/RDS as names change. */
function runSotw(
  s: SotwStream,
  c: Client,
  first: SotwResponse[],
  nack: (r: SotwResponse) => boolean,
) {
  const queue = [...first];
  const subs = new Map<string, string[]>();
  const lastNonce = new Map<string, string>();
  const request = (typeUrl: string, names: string[], r?: SotwResponse, err?: string) => {
    const atBefore = s.progress().find((p) => p.typeUrl === typeUrl)?.at;
    const step = s.onRequest({
      typeUrl,
      versionInfo: r?.versionInfo ?? '',
      responseNonce: r?.nonce ?? lastNonce.get(typeUrl) ?? '',
      resourceNames: names,
      errorDetail: err ? { message: err } : undefined,
    });
    c.events.push(...step.events);
    queue.push(...step.responses);
    const atAfter = s.progress().find((p) => p.typeUrl === typeUrl)?.at;
    if (err && atAfter !== atBefore) c.violations.push(`NACK moved ${typeUrl} to ${atAfter}`);
  };
  if (first.length === 0 && subs.size === 0) {
    for (const t of [T.cluster, T.listener]) {
      subs.set(t, []);
      request(t, []);
    }
  }
  for (let i = 0; queue.length > 0 && i < 1000; i++) {
    const r = queue.shift()!;
    c.nonces.push(r.nonce);
    lastNonce.set(r.typeUrl, r.nonce);
    const names = subs.get(r.typeUrl) ?? [];
    if (nack(r)) {
      request(r.typeUrl, names, r, 'rejected by test client');
      continue;
    }
    const m = c.view.get(r.typeUrl) ?? new Map<string, XdsResource>();
    if (r.typeUrl === T.cluster || r.typeUrl === T.listener) m.clear();
    for (const x of r.resources) m.set(x.name, x);
    c.view.set(r.typeUrl, m);
    c.violations.push(...brokenRefs(c.view));
    request(r.typeUrl, names, r);
    for (const [t, want] of [
      [T.endpoint, edsNames(c.view)],
      [T.route, rdsNames(c.view)],
    ] as const) {
      if (JSON.stringify(subs.get(t) ?? null) !== JSON.stringify(want) && want.length > 0) {
        subs.set(t, want);
        request(t, want);
      }
    }
  }
}

function runDelta(
  s: DeltaStream,
  c: Client,
  first: DeltaResponse[],
  subs: Map<string, Set<string>>,
) {
  const queue = [...first];
  const request = (typeUrl: string, sub: string[], unsub: string[], nonce = '') => {
    const step = s.onRequest({
      typeUrl,
      responseNonce: nonce,
      resourceNamesSubscribe: sub,
      resourceNamesUnsubscribe: unsub,
      initialResourceVersions: {},
    });
    c.events.push(...step.events);
    queue.push(...step.responses);
  };
  if (subs.size === 0) {
    for (const t of [T.cluster, T.listener]) {
      subs.set(t, new Set());
      request(t, [], []);
    }
  }
  for (let i = 0; queue.length > 0 && i < 1000; i++) {
    const r = queue.shift()!;
    c.nonces.push(r.nonce);
    const m = c.view.get(r.typeUrl) ?? new Map<string, XdsResource>();
    for (const x of r.resources) m.set(x.name, x);
    for (const n of r.removedResources) m.delete(n);
    c.view.set(r.typeUrl, m);
    c.violations.push(...brokenRefs(c.view));
    request(r.typeUrl, [], [], r.nonce);
    for (const [t, want] of [
      [T.endpoint, edsNames(c.view)],
      [T.route, rdsNames(c.view)],
    ] as const) {
      const have = subs.get(t) ?? new Set<string>();
      const add = want.filter((n) => !have.has(n));
      const del = [...have].filter((n) => !want.includes(n));
      if (add.length > 0 || del.length > 0) {
        subs.set(t, new Set(want));
        request(t, add, del);
      }
    }
  }
}

function expectMatches(c: Client, snap: Snapshot) {
  for (const t of [T.cluster, T.endpoint, T.listener, T.route]) {
    const want = [...(snap.types.get(t)?.values() ?? [])]
      .map((r) => `${r.name}@${r.version}`)
      .sort();
    const have = [...(c.view.get(t)?.values() ?? [])]
      .filter((r) => t === T.cluster || t === T.listener || snap.types.get(t)?.has(r.name))
      .map((r) => `${r.name}@${r.version}`)
      .sort();
    assert.deepEqual(have, want, `client's ${t} matches the snapshot`);
  }
}

describe('xDS protocol properties', () => {
  it('SotW: a route never names a cluster the client lacks; the client converges; nothing is resent', () => {
    fc.assert(
      fc.property(fc.array(arbSnapshot, { minLength: 1, maxLength: 6 }), (gens) => {
        const snaps = gens.map((g, i) => snapshotOf(`v${i + 1}`, g));
        const s = new SotwStream(snaps[0]);
        const c = newClient();
        runSotw(s, c, [], () => false);
        for (const snap of snaps.slice(1))
          runSotw(s, c, [...s.onSnapshot(snap).responses], () => false);
        const last = snaps.at(-1)!;
        assert.deepEqual(c.violations, []);
        expectMatches(c, last);
        assert.equal(new Set(c.nonces).size, c.nonces.length, 'nonces are unique');
        assert.deepEqual(
          s.onSnapshot(
            snapshotOf(
              'again',
              [...last.types.values()].flatMap((m) => [...m.values()]),
            ),
          ).responses,
          [],
        );
        assert.ok(
          s.progress().every((p) => p.at === 'again'),
          'unchanged types count as ACKed',
        );
      }),
      { numRuns: 150, endOnFailure: true },
    );
  });

  it('Delta: same guarantees, with removals after additions', () => {
    fc.assert(
      fc.property(fc.array(arbSnapshot, { minLength: 1, maxLength: 6 }), (gens) => {
        const snaps = gens.map((g, i) => snapshotOf(`v${i + 1}`, g));
        const s = new DeltaStream(snaps[0]);
        const c = newClient();
        const subs = new Map<string, Set<string>>();
        runDelta(s, c, [], subs);
        for (const snap of snaps.slice(1)) runDelta(s, c, [...s.onSnapshot(snap).responses], subs);
        assert.deepEqual(c.violations, []);
        expectMatches(c, snaps.at(-1)!);
        assert.equal(new Set(c.nonces).size, c.nonces.length);
        assert.deepEqual(s.onSnapshot(snaps.at(-1)!).responses, []);
      }),
      { numRuns: 150, endOnFailure: true },
    );
  });

  it('SotW: a type never counts as running a version its client NACKed', () => {
    fc.assert(
      fc.property(
        fc.array(arbSnapshot, { minLength: 2, maxLength: 5 }),
        fc.infiniteStream(fc.boolean()),
        (gens, coin) => {
          const snaps = gens.map((g, i) => snapshotOf(`v${i + 1}`, g));
          const s = new SotwStream(snaps[0]);
          const c = newClient();
          const nack = () => coin.next().value as boolean;
          runSotw(s, c, [], nack);
          for (const snap of snaps.slice(1)) runSotw(s, c, [...s.onSnapshot(snap).responses], nack);
          assert.deepEqual(
            c.violations.filter((v) => v.startsWith('NACK')),
            [],
          );
          // Whatever was NACKed last and not replaced since is visible in the progress.
          for (const p of s.progress()) {
            const last = c.events.filter((e) => e.typeUrl === p.typeUrl).at(-1);
            if (last?.kind === 'rejected') assert.equal(p.nack?.message, last.message);
          }
          for (const e of c.events) assert.ok(e.kind === 'acked' || e.message.length > 0);
        },
      ),
      { numRuns: 100, endOnFailure: true },
    );
  });
});
