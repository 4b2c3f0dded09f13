/**
 * Rollouts against a real Temporal dev server and a real nats-server of this file's own. The
 * fleet is simulated (SimulatedFleet: simulated nodes that ACK/NACK through the same NATS
 * protocols as the xDS layer); everything else is the real worker, workflows and adapters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { Runtime, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { requireEnv, startNatsServer, sleep, type TestNatsServer } from '@shoal/testkit';
import { rolloutCommands, rolloutHandle, submitVersion } from './client.js';
import {
  edgeCatchUpWorkflowId,
  scopeWorkflowId,
  type RolloutInput,
  type RolloutProgress,
} from './definitions.js';
import { startHarness, type Harness } from './harness.js';
import { recordHistory } from './replay-support.js';
import type { SimulatedClusterSpec } from './simulated.js';
import type { RolloutPolicy } from './types.js';
import { bundleRolloutWorkflows } from './worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

const FLEET: SimulatedClusterSpec[] = [
  { name: 'c-a', nodes: 3, version: 'v1', labels: { tier: 'core' } },
  { name: 'c-b', nodes: 3, version: 'v1', labels: { tier: 'core' } },
  { name: 'c-c', nodes: 3, version: 'v1', labels: { tier: 'core' } },
  { name: 'edge-1', kind: 'edge', nodes: 2, version: 'v1', labels: { tier: 'edge' } },
];
const CLUSTERS = FLEET.map((c) => c.name);

const POLICY: RolloutPolicy = {
  name: 'gateways',
  canary: { clusters: ['c-a'] },
  waves: [
    { name: 'wave-2', selector: { tier: 'core' } },
    { name: 'edge', percent: 100 },
  ],
  maxConcurrent: 2,
  bakeTimeMs: 100,
  health: { maxErrorRate: 0.05, maxP99Ratio: 2 },
  convergenceDeadlineMs: 15_000,
  offlineEdge: { waitMs: 300, action: 'skip-and-mark-pending' },
};
const TUNING = { pollMs: 50, heartbeatTimeoutMs: 3000 };

let nats: TestNatsServer;
let bundle: WorkflowBundle;
const harnesses: Harness[] = [];

async function harness(fleet: SimulatedClusterSpec[] = FLEET): Promise<Harness> {
  const h = await startHarness({
    natsUrl: nats.url,
    temporalAddress: requireEnv('TEMPORAL_ADDRESS'),
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    fleet,
    bundle,
  });
  harnesses.push(h);
  return h;
}

const input = (h: Harness, version: string, policy: Partial<RolloutPolicy> = {}): RolloutInput => ({
  rolloutId: `rollout-${h.id}-${version}`,
  policy: { ...POLICY, ...policy },
  targetVersion: version,
  tuning: TUNING,
});

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('rollout workflow (real Temporal, real NATS, simulated nodes)', () => {
  before(async () => {
    nats = await startNatsServer();
    bundle = await bundleRolloutWorkflows();
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await nats.dispose();
  });

  it('happy path over 3 clusters and 1 edge site: every node ends on the new version and the events tell the story in order', async () => {
    const h = await harness();
    const handle = await h.start(input(h, 'v2'));
    const result = await handle.result();
    assert.equal(result.status, 'completed');
    assert.deepEqual(h.fleet.notOn('v2'), [], 'every node of every cluster runs v2');
    const events = await h.events(handle.workflowId);
    assert.deepEqual(
      events.map((e) => `${e.type}${e.metadata.cluster ? `:${e.metadata.cluster}` : ''}`),
      [
        'RolloutStarted',
        'RolloutWaveStarted',
        'ConfigVersionAssigned:c-a',
        'RolloutWaveCompleted',
        'RolloutWaveStarted',
        'ConfigVersionAssigned:c-b',
        'ConfigVersionAssigned:c-c',
        'RolloutWaveCompleted',
        'RolloutWaveStarted',
        'ConfigVersionAssigned:edge-1',
        'RolloutWaveCompleted',
        'RolloutCompleted',
      ],
    );
    for (const e of events) {
      assert.equal(e.stream, `rollout/${handle.workflowId}`);
      assert.equal(e.metadata.correlationId, handle.workflowId);
    }
    const progress = await rolloutCommands.progress(handle);
    assert.equal(progress.state, 'completed');
    assert.ok(progress.clusters.every((c) => c.state === 'converged'));
    await recordHistory(h.client, handle.workflowId, 'happy-path');
  });

  it('a node NACKs in wave 2: every touched cluster is back on the old version, newest first, and the reason names the node and message', async () => {
    const h = await harness();
    h.fleet.nackOn('c-c', 'v2', 'route "checkout": invalid regex "(["', 'c-c-node-1');
    const handle = await h.start(input(h, 'v2'));
    const result = await handle.result();
    assert.equal(result.status, 'rolled-back');
    assert.match(
      result.reason ?? '',
      /node c-c-node-1 of cluster c-c rejected version v2: route "checkout": invalid regex/,
    );
    assert.deepEqual(h.fleet.notOn('v1'), [], 'every node is back on v1');
    const events = await h.events(handle.workflowId);
    const rollbacks = events
      .filter((e) => e.type === 'ConfigVersionAssigned' && e.data.purpose === 'rollback')
      .map((e) => e.metadata.cluster);
    assert.deepEqual(rollbacks, ['c-c', 'c-b', 'c-a'], 'newest first; edge-1 was never touched');
    const types = events.map((e) => e.type);
    assert.ok(types.indexOf('RolloutGateFailed') < types.indexOf('RolloutRolledBack'));
    assert.ok(!types.includes('RolloutCompleted'));
    const failed = events.find((e) => e.type === 'RolloutGateFailed')!;
    assert.match(String(failed.data.reason), /c-c-node-1/);
    const progress = await rolloutCommands.progress(handle);
    assert.equal(progress.state, 'rolled-back');
    assert.deepEqual(
      progress.clusters
        .filter((c) => c.state === 'restored')
        .map((c) => c.name)
        .sort(),
      ['c-a', 'c-b', 'c-c'],
    );
    await recordHistory(h.client, handle.workflowId, 'nack-rollback');
  });

  it('a health gate fails (5xx injected on a cluster): automatic rollback with the failing metric as reason', async () => {
    const h = await harness();
    h.fleet.injectErrors('c-b', 'v2', 0.2);
    const handle = await h.start(input(h, 'v2'));
    const result = await handle.result();
    assert.equal(result.status, 'rolled-back');
    assert.match(
      result.reason ?? '',
      /health gate of wave "wave-2" failed: c-b error-rate 0.2 > 0.05/,
    );
    assert.deepEqual(h.fleet.notOn('v1'), []);
    const types = (await h.events(handle.workflowId)).map((e) => e.type);
    assert.ok(types.includes('RolloutGateFailed') && types.includes('RolloutRolledBack'));
  });

  it('pause, resume, approve and abort, each observed through the progress query', async () => {
    const h = await harness();
    // trigger manual: the canary waits for approval, so the pause below lands at a known point.
    const handle = await h.start(
      input(h, 'v2', {
        trigger: 'manual',
        waves: [{ name: 'wave-2', percent: 100, requiresApproval: true }],
      }),
    );
    await until(
      'the canary to wait for approval',
      async () => (await rolloutCommands.progress(handle)).state === 'awaiting-approval',
    );
    const p1 = await rolloutCommands.pause(handle, 'alice', 'change freeze');
    assert.equal(p1.paused, true);
    await rolloutCommands.approve(handle, 'canary', 'bob');
    await until(
      'the approved canary to hold because the rollout is paused',
      async () => (await rolloutCommands.progress(handle)).state === 'paused',
    );
    await sleep(300);
    assert.deepEqual(h.fleet.assignmentLog, [], 'nothing is assigned while paused');
    await rolloutCommands.resume(handle, 'alice');
    let p: RolloutProgress | undefined;
    await until(
      'wave-2 to wait for approval',
      async () => (p = await rolloutCommands.progress(handle)).state === 'awaiting-approval',
    );
    assert.equal(p!.waves[1]!.state, 'awaiting-approval');
    assert.equal(p!.waves[0]!.state, 'completed');
    assert.deepEqual(h.fleet.notOn('v2'), ['c-b', 'c-c', 'edge-1'], 'only the canary has v2');
    await assert.rejects(rolloutCommands.approve(handle, 'wave-9', 'bob'), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(String(err.cause?.message), /no wave "wave-9".*waves: canary, wave-2/);
      return true;
    });
    const p2 = await rolloutCommands.approve(handle, 'wave-2', 'bob');
    assert.equal(p2.waves[1]!.approvedBy, 'bob');
    assert.equal((await handle.result()).status, 'completed');
    assert.deepEqual(h.fleet.notOn('v2'), []);
    const events = await h.events(handle.workflowId);
    assert.deepEqual(
      events
        .filter((e) => /Paused|Resumed|Approved/.test(e.type))
        .map((e) => [e.type, e.metadata.actor]),
      [
        ['RolloutPaused', 'alice'],
        ['RolloutWaveApproved', 'bob'],
        ['RolloutResumed', 'alice'],
        ['RolloutWaveApproved', 'bob'],
      ],
    );
    await recordHistory(h.client, handle.workflowId, 'operator-commands');

    // Abort while wave-2 waits for approval: the canary (on v3) goes back to v2.
    const h3 = await h.start(
      input(h, 'v3', { waves: [{ name: 'wave-2', percent: 100, requiresApproval: true }] }),
    );
    await until(
      'v3 to wait for approval',
      async () => (await rolloutCommands.progress(h3)).state === 'awaiting-approval',
    );
    assert.deepEqual(h.fleet.nodeVersions('c-a'), ['v3', 'v3', 'v3']);
    await rolloutCommands.abort(h3, 'carol', 'wrong version');
    const r3 = await h3.result();
    assert.equal(r3.status, 'aborted');
    assert.match(r3.reason ?? '', /aborted by carol: wrong version/);
    assert.deepEqual(h.fleet.notOn('v2'), []);
    const p3 = await rolloutCommands.progress(h3);
    assert.equal(p3.state, 'aborted');
    await assert.rejects(rolloutCommands.pause(h3, 'alice'));
  });

  it('an offline edge site with skip-and-mark-pending: the rollout completes, the site is pending, and it catches up on reconnect', async () => {
    const h = await harness(FLEET.map((c) => (c.kind === 'edge' ? { ...c, online: false } : c)));
    const handle = await h.start(input(h, 'v2'));
    const result = await handle.result();
    assert.equal(result.status, 'completed');
    assert.deepEqual(result.pendingEdgeSites, ['edge-1']);
    assert.deepEqual(h.fleet.notOn('v2'), ['edge-1']);
    const progress = await rolloutCommands.progress(handle);
    assert.equal(progress.clusters.find((c) => c.name === 'edge-1')!.state, 'edge-pending');
    h.fleet.setOnline('edge-1', true);
    await until('edge-1 to catch up', () => h.fleet.notOn('v2').length === 0);
    await until('the catch-up event', async () =>
      (await h.events(handle.workflowId)).some((e) => e.type === 'RolloutEdgeSiteCaughtUp'),
    );
    const types = (await h.events(handle.workflowId)).map((e) => e.type);
    assert.ok(types.indexOf('RolloutEdgeSitePending') < types.indexOf('RolloutCompleted'));
    await until('the catch-up workflow to finish', async () => {
      const d = await h.client.workflow
        .getHandle(edgeCatchUpWorkflowId(handle.workflowId, 'edge-1'))
        .describe();
      return d.status.name === 'COMPLETED';
    });
    await recordHistory(
      h.client,
      edgeCatchUpWorkflowId(handle.workflowId, 'edge-1'),
      'edge-catch-up',
    );
  });

  it('an offline edge site with the fail rule: the rollout rolls back every touched cluster', async () => {
    const h = await harness(FLEET.map((c) => (c.kind === 'edge' ? { ...c, online: false } : c)));
    const handle = await h.start(input(h, 'v2', { offlineEdge: { waitMs: 200, action: 'fail' } }));
    const result = await handle.result();
    assert.equal(result.status, 'rolled-back');
    assert.match(
      result.reason ?? '',
      /edge site edge-1 had no connected node for 200 ms \(policy: fail\)/,
    );
    assert.deepEqual(
      h.fleet.notOn(
        'v1',
        CLUSTERS.filter((c) => c !== 'edge-1'),
      ),
      [],
    );
    h.fleet.setOnline('edge-1', true);
    await until('edge-1 to come back on v1', () => h.fleet.notOn('v1').length === 0);
  });

  it('a newer version supersedes a running rollout without rollback; a later rollback goes to the version before both', async () => {
    const h = await harness();
    const scope = `gateways-${h.id}`;
    const slow = { ...POLICY, canary: { clusters: ['c-a'], bakeTimeMs: 60_000 } };
    await submitVersion(
      h.client,
      scope,
      { rolloutId: `r-${h.id}-v2`, policy: slow, targetVersion: 'v2', tuning: TUNING },
      h.taskQueue,
    );
    const v2 = rolloutHandle(h.client, `r-${h.id}-v2`, scope);
    await until('v2 to bake on the canary', async () => {
      try {
        return (await rolloutCommands.progress(v2)).state === 'baking';
      } catch {
        return false;
      }
    });
    h.fleet.nackOn('edge-1', 'v3', 'unsupported filter');
    await submitVersion(
      h.client,
      scope,
      { rolloutId: `r-${h.id}-v3`, policy: POLICY, targetVersion: 'v3', tuning: TUNING },
      h.taskQueue,
    );
    const r2 = await v2.result();
    assert.equal(r2.status, 'superseded');
    assert.deepEqual(r2.lastGood, { 'c-a': 'v1' });
    const v3 = rolloutHandle(h.client, `r-${h.id}-v3`, scope);
    await until('v3 to start', () =>
      v3.describe().then(
        () => true,
        () => false,
      ),
    );
    const r3 = await v3.result();
    assert.equal(r3.status, 'rolled-back');
    // c-a went v1 → v2 (superseded) → v3 → rolled back: to v1, the last good, not v2.
    assert.deepEqual(h.fleet.notOn('v1'), []);
    const scopeState = await rolloutCommands.scope(h.client, scope);
    assert.deepEqual(scopeState.finished, [
      { rolloutId: `r-${h.id}-v2`, status: 'superseded' },
      { rolloutId: `r-${h.id}-v3`, status: 'rolled-back' },
    ]);
    const e2 = (await h.events(`r-${h.id}-v2`)).map((e) => e.type);
    assert.ok(e2.includes('RolloutSuperseded') && !e2.includes('RolloutRolledBack'));
    await recordHistory(h.client, v2.workflowId, 'superseded');
    // scope.history.json is from before scoped child ids (the unpatched branch); this one has them.
    await recordHistory(h.client, scopeWorkflowId(scope), 'scope-scoped-ids');
  });

  it('two fleets sharing a Temporal namespace submit the same rollout id: each scope runs its own rollout on its own fleet', async () => {
    // Rollout ids come from the config version and the store position, so two fleets with the
    // same configuration make the same id. Before scoped workflow ids the second child workflow
    // was refused as a duplicate (or, while the first ran, never started).
    const [a, b] = [await harness(), await harness()];
    const rolloutId = `r-shared-${a.id}`;
    const submit = (h: Harness, scope: string, version: string) =>
      submitVersion(
        h.client,
        scope,
        { rolloutId, policy: POLICY, targetVersion: version, tuning: TUNING },
        h.taskQueue,
      );
    await submit(a, `fleet-a-${a.id}`, 'v2');
    await submit(b, `fleet-b-${b.id}`, 'v3');
    const ha = rolloutHandle(a.client, rolloutId, `fleet-a-${a.id}`);
    const hb = rolloutHandle(b.client, rolloutId, `fleet-b-${b.id}`);
    assert.notEqual(ha.workflowId, hb.workflowId);
    await until('both rollouts to start', async () => {
      const started = await Promise.all(
        [ha, hb].map((x) =>
          x.describe().then(
            () => true,
            () => false,
          ),
        ),
      );
      return started.every(Boolean);
    });
    const [ra, rb] = await Promise.all([ha.result(), hb.result()]);
    assert.equal(ra.status, 'completed');
    assert.equal(rb.status, 'completed');
    assert.deepEqual(a.fleet.notOn('v2'), [], 'fleet a is on its own version');
    assert.deepEqual(b.fleet.notOn('v3'), [], 'fleet b is on its own version');
  });

  it('a compensation that keeps failing is retried, counted, recorded and fails the workflow (never swallowed)', async () => {
    const h = await harness();
    h.fleet.nackOn('c-c', 'v2', 'bad listener');
    h.fleet.nackOn('c-a', 'v1', 'disk full', 'c-a-node-2');
    const handle = await h.start(input(h, 'v2'));
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(
        String(err.cause?.message),
        /1 cluster\(s\) are not confirmed on their last good version: c-a \(node c-a-node-2 rejected v1: disk full\)/,
      );
      return true;
    });
    const progress = await rolloutCommands.progress(handle);
    assert.equal(progress.state, 'compensation-failed');
    assert.equal(progress.compensationFailures, 3, 'one failure per compensation round');
    assert.equal(progress.clusters.find((c) => c.name === 'c-a')!.state, 'restore-failed');
    assert.deepEqual(
      h.fleet.notOn('v1', ['c-b', 'c-c']),
      [],
      'the other clusters were still restored',
    );
    const types = (await h.events(handle.workflowId)).map((e) => e.type);
    assert.ok(types.includes('RolloutCompensationFailed'));
  });
});
