/**
 * Activities in Temporal's MockActivityEnvironment against an in-memory fake fleet (named fake:
 * no server). The same activities run against real NATS in the integration tests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from './activities.js';
import { deterministicEventId, rolloutEvent, type ShoalEvent } from './events.js';
import { FailureTypes } from './failures.js';
import type { RolloutDeps } from './ports.js';
import type { ConvergenceReport, HealthSample, NodeAckState } from './types.js';

function fakeFleet() {
  const nodes = new Map<string, NodeAckState[]>();
  const stats = new Map<string, HealthSample>();
  const assigned = new Map<string, string>();
  const published: ShoalEvent[] = [];
  const deps: RolloutDeps = {
    assigner: {
      assign: (c, v) => Promise.resolve(void assigned.set(c, v)),
      unassign: (c) => Promise.resolve(void assigned.delete(c)),
      current: (c) => Promise.resolve(assigned.get(c) ?? null),
    },
    probe: {
      check: (c, v): Promise<ConvergenceReport> => {
        const ns = nodes.get(c) ?? [];
        return Promise.resolve({
          converged: ns.length > 0 && ns.every((n) => n.ackedVersion === v),
          nodes: ns,
        });
      },
    },
    health: { sample: (c, v) => Promise.resolve(stats.get(`${c}@${v}`) ?? null) },
    events: { publish: (e) => Promise.resolve(void published.push(e)) },
    fleet: { list: () => Promise.resolve([]) },
  };
  return { nodes, stats, assigned, published, acts: createActivities(deps) };
}

/** Run one activity in a fresh mock activity context (typed by the activity itself). */
const runIn = <A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> =>
  new MockActivityEnvironment().run(fn as (input: unknown) => Promise<R>, input);

describe('rollout activities (fake in-memory fleet)', () => {
  it('waitForConvergence fails at once, not retryable, naming node and message on a NACK', async () => {
    const f = fakeFleet();
    f.nodes.set('c1', [
      { node: 'n1', ackedVersion: 'v2' },
      { node: 'n2', ackedVersion: 'v1', nack: { version: 'v2', message: 'bad cluster "x"' } },
    ]);
    await assert.rejects(
      runIn(f.acts.waitForConvergence, {
        clusters: [{ name: 'c1', kind: 'cluster' }],
        version: 'v2',
        deadlineMs: Date.now() + 10_000,
        offlineUntilMs: 0,
        pollMs: 10,
      }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, FailureTypes.configRejected);
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /node n2 of cluster c1 rejected version v2: bad cluster "x"/);
        assert.deepEqual(err.details?.[0], {
          cluster: 'c1',
          node: 'n2',
          version: 'v2',
          message: 'bad cluster "x"',
        });
        return true;
      },
    );
  });

  it('waitForConvergence fails, not retryable, at the deadline naming the nodes behind; a NACK of an older version does not count', async () => {
    const f = fakeFleet();
    f.nodes.set('c1', [
      { node: 'n1', ackedVersion: 'v1', nack: { version: 'v0', message: 'old' } },
    ]);
    await assert.rejects(
      runIn(f.acts.waitForConvergence, {
        clusters: [{ name: 'c1', kind: 'cluster' }],
        version: 'v2',
        deadlineMs: Date.now() + 60,
        offlineUntilMs: 0,
        pollMs: 10,
      }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, FailureTypes.convergenceDeadline);
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /c1 \(nodes not on v2: n1\)/);
        return true;
      },
    );
  });

  it('waitForConvergence reports an edge site with no connected node as offline after the wait, and returns converged clusters', async () => {
    const f = fakeFleet();
    f.nodes.set('c1', [{ node: 'n1', ackedVersion: 'v2' }]);
    const t0 = Date.now();
    const r = await runIn(f.acts.waitForConvergence, {
      clusters: [
        { name: 'c1', kind: 'cluster' },
        { name: 'edge', kind: 'edge' },
      ],
      version: 'v2',
      deadlineMs: t0 + 10_000,
      offlineUntilMs: t0 + 100,
      pollMs: 10,
    });
    assert.deepEqual(r, { converged: ['c1'], offline: ['edge'] });
    assert.ok(Date.now() - t0 >= 100, 'waited for the offline deadline');
  });

  it('evaluateHealth fails on error rate and on p99 against the previous version, and skips clusters without enough requests', async () => {
    const f = fakeFleet();
    f.stats.set('a@v2', { requests: 1000, errors: 100, p99Ms: 10 });
    f.stats.set('b@v1', { requests: 1000, errors: 0, p99Ms: 10 });
    f.stats.set('b@v2', { requests: 1000, errors: 0, p99Ms: 31 });
    f.stats.set('c@v2', { requests: 5, errors: 5, p99Ms: 10 });
    const verdict = await runIn(f.acts.evaluateHealth, {
      clusters: ['a', 'b', 'c', 'd'].map((name) => ({
        name,
        kind: 'cluster' as const,
        previousVersion: 'v1',
      })),
      version: 'v2',
      thresholds: { maxErrorRate: 0.05, maxP99Ratio: 3, minRequests: 10 },
    });
    assert.equal(verdict.ok, false);
    assert.deepEqual(verdict.failures, [
      { cluster: 'a', metric: 'error-rate', observed: 0.1, limit: 0.05 },
      { cluster: 'b', metric: 'p99', observed: 31, limit: 30 },
    ]);
    assert.deepEqual(verdict.notJudged, ['c', 'd']);
  });

  it('assignVersions is idempotent: a retry assigns the same version and publishes the same event ids', async () => {
    const f = fakeFleet();
    const input = {
      rolloutId: 'r1',
      purpose: 'rollout' as const,
      atMs: 1_700_000_000_000,
      clusters: [{ name: 'c1', version: 'v2', previousVersion: 'v1' }],
    };
    await runIn(f.acts.assignVersions, input);
    await runIn(f.acts.assignVersions, input);
    assert.equal(f.assigned.get('c1'), 'v2');
    assert.equal(f.published.length, 2);
    assert.equal(f.published[0]!.id, f.published[1]!.id);
    assert.equal(f.published[0]!.stream, 'rollout/r1');
    assert.equal(f.published[0]!.metadata.correlationId, 'r1');
  });

  it('restoreVersions reports a cluster that NACKs its old version as unconfirmed, with the reason', async () => {
    const f = fakeFleet();
    f.nodes.set('c1', [{ node: 'n1', ackedVersion: 'v1' }]);
    f.nodes.set('c2', [
      { node: 'n9', ackedVersion: 'v2', nack: { version: 'v1', message: 'nope' } },
    ]);
    const r = await runIn(f.acts.restoreVersions, {
      rolloutId: 'r1',
      clusters: [
        { name: 'c2', kind: 'cluster', previousVersion: 'v1' },
        { name: 'c1', kind: 'cluster', previousVersion: 'v1' },
        { name: 'c3', kind: 'cluster', previousVersion: null },
      ],
      fromVersion: 'v2',
      atMs: 1,
      deadlineMs: Date.now() + 1000,
      pollMs: 10,
    });
    assert.deepEqual(r.unconfirmed, [{ cluster: 'c2', reason: 'node n9 rejected v1: nope' }]);
    assert.equal(f.assigned.get('c1'), 'v1');
    assert.equal(f.assigned.has('c3'), false, 'no previous version: unassigned');
  });
});

describe('rollout events', () => {
  it('ids are UUIDv7-shaped, stable per (rollout, step), and differ between steps', () => {
    const id = deterministicEventId(1_700_000_000_000, 'r1/start');
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(id, deterministicEventId(1_700_000_000_000, 'r1/start'));
    assert.notEqual(id, deterministicEventId(1_700_000_000_000, 'r1/other'));
    assert.equal(id.slice(0, 8), (1_700_000_000_000).toString(16).padStart(12, '0').slice(0, 8));
    const e = rolloutEvent({
      rolloutId: 'r1',
      type: 'RolloutStarted',
      key: 'start',
      atMs: 0,
      data: {},
    });
    assert.deepEqual(
      [e.stream, e.metadata.correlationId, e.schemaVersion, e.data.rolloutId],
      ['rollout/r1', 'r1', 1, 'r1'],
    );
  });
});
