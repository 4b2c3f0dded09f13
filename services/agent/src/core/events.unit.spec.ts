import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateEnvelope } from '@shoal/db';
import { changeToEvent, clusterEvent, EventTypes, type EventContext } from './events.js';
import { CLUSTER_SCOPE, contentHash, type ObservedResource } from './resource.js';

const ctx: EventContext = {
  cluster: 'east',
  actor: 'agent/east',
  source: 'agent/kube',
  now: () => new Date(0),
};
const ns: ObservedResource = {
  kind: 'Namespace',
  namespace: CLUSTER_SCOPE,
  name: 'shop',
  spec: { metadata: { name: 'shop' } },
  resourceVersion: '7',
};

describe('events the agent publishes', () => {
  it('pass the store envelope check (ingest would accept them)', () => {
    const up = changeToEvent(ctx, { op: 'upsert', resource: ns, hash: contentHash(ns) });
    const del = changeToEvent(ctx, { op: 'delete', ref: ns });
    const reg = clusterEvent(ctx, EventTypes.clusterRegistered, { sources: ['kube'] });
    const beat = clusterEvent(ctx, EventTypes.clusterHeartbeat, { pending: 0, resources: 1 });
    for (const ev of [up, del, reg, beat]) {
      const res = validateEnvelope(JSON.parse(JSON.stringify(ev.envelope)));
      assert.equal(res.ok, true, JSON.stringify(res));
    }
    assert.equal(up.subject, 'shoal.ev.east.Namespace');
    assert.equal(up.envelope.data.resourceVersion, '7');
    assert.equal(reg.subject, 'shoal.ev.east.Cluster');
  });
});
