import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyToLedger, diffDelete, diffListing, diffOne } from './diff.js';
import {
  contentHash,
  normalizeObject,
  resourceKey,
  type Ledger,
  type ObservedResource,
} from './resource.js';

const svc = (name: string, port: number, rv = '1'): ObservedResource => ({
  kind: 'Service',
  namespace: 'default',
  name,
  spec: { spec: { ports: [{ port }] } },
  resourceVersion: rv,
});
const ledgerOf = (...rs: ObservedResource[]): Ledger =>
  new Map(rs.map((r) => [resourceKey(r), { hash: contentHash(r) }]));

describe('diff (resync against what was last reported)', () => {
  it('given an identical listing, when diffed, then nothing is published', () => {
    const ledger = ledgerOf(svc('a', 80), svc('b', 81));
    assert.deepEqual(diffListing(ledger, [svc('a', 80, '9'), svc('b', 81, '7')], 'all'), []);
  });

  it('given changes while down, when diffed, then only upserts of changed and deletes of missing', () => {
    const ledger = ledgerOf(svc('a', 80), svc('b', 81), svc('c', 82));
    const changes = diffListing(ledger, [svc('a', 80), svc('b', 8081), svc('d', 83)], 'all');
    assert.deepEqual(
      changes.map((c) => (c.op === 'upsert' ? `+${c.resource.name}` : `-${c.ref.name}`)),
      ['+b', '+d', '-c'],
    );
  });

  it('given a kind-scoped listing, when diffed, then other kinds are never deleted', () => {
    const gw: ObservedResource = { kind: 'Gateway', namespace: 'default', name: 'g', spec: {} };
    const ledger = ledgerOf(svc('a', 80), gw);
    const changes = diffListing(ledger, [], { kinds: new Set(['Service']) });
    assert.deepEqual(changes, [
      { op: 'delete', ref: { kind: 'Service', namespace: 'default', name: 'a' } },
    ]);
    assert.deepEqual(diffListing(ledger, [], { kinds: new Set() }), []);
  });

  it('skips no-op watch updates and deletes of unknown resources; applies changes to the ledger', () => {
    const ledger = ledgerOf(svc('a', 80));
    assert.equal(diffOne(ledger, svc('a', 80, '99')), undefined);
    const up = diffOne(ledger, svc('a', 90, '100'));
    assert.ok(up);
    applyToLedger(ledger, up);
    assert.equal(ledger.get('Service/default/a')?.resourceVersion, '100');
    assert.equal(
      diffDelete(ledger, { kind: 'Service', namespace: 'default', name: 'x' }),
      undefined,
    );
    const del = diffDelete(ledger, { kind: 'Service', namespace: 'default', name: 'a' });
    assert.ok(del);
    applyToLedger(ledger, del);
    assert.equal(ledger.size, 0);
  });

  it('normalizes away status and server-managed metadata so controller writes are no-ops', () => {
    const a = normalizeObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'a',
        resourceVersion: '5',
        uid: 'u1',
        managedFields: [{}],
        labels: { x: 'y' },
      },
      spec: { ports: [{ port: 80 }] },
      status: { loadBalancer: {} },
    });
    const b = normalizeObject({
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { labels: { x: 'y' }, name: 'a', resourceVersion: '6', uid: 'u1' },
      spec: { ports: [{ port: 80 }] },
      status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
    });
    const r = (spec: typeof a): ObservedResource => ({
      kind: 'Service',
      namespace: 'default',
      name: 'a',
      spec,
    });
    assert.equal(contentHash(r(a)), contentHash(r(b)));
    assert.deepEqual(a, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'a', labels: { x: 'y' } },
      spec: { ports: [{ port: 80 }] },
    });
  });
});
