import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidRolloutPlanError } from '../errors.js';
import { planRollout, plannedClusters } from './plan.js';
import type { FleetCluster, PlanInput, RolloutPlan, RolloutPolicy } from './types.js';

const cluster = (
  name: string,
  labels: Record<string, string> = {},
  kind: 'cluster' | 'edge' = 'cluster',
  online = true,
): FleetCluster => ({
  name,
  kind,
  labels,
  online,
});

const basePolicy: RolloutPolicy = {
  name: 'gateways',
  canary: { clusters: ['c-01'] },
  waves: [
    { name: 'half', percent: 50 },
    { name: 'rest', percent: 100 },
  ],
  maxConcurrent: 2,
  bakeTimeMs: 1000,
  health: { maxErrorRate: 0.01, maxP99Ratio: 1.5 },
  convergenceDeadlineMs: 30_000,
  offlineEdge: { waitMs: 5000, action: 'skip-and-mark-pending' },
};

const fleet10 = Array.from({ length: 10 }, (_, i) =>
  cluster(`c-${String(i + 1).padStart(2, '0')}`, { region: i < 5 ? 'eu' : 'us' }),
);

function given(over: Partial<PlanInput> = {}, policy: Partial<RolloutPolicy> = {}): PlanInput {
  return {
    rolloutId: 'r-1',
    targetVersion: 'v2',
    fleet: fleet10,
    lastGood: Object.fromEntries(fleet10.map((c) => [c.name, 'v1'])),
    ...over,
    policy: { ...basePolicy, ...policy },
  };
}

const names = (plan: RolloutPlan, wave: number) =>
  plan.waves[wave]!.batches.flat().map((c) => c.name);

function thenThrows(input: PlanInput, ...expected: { path: string; match: RegExp }[]): void {
  assert.throws(
    () => planRollout(input),
    (err: unknown) => {
      assert.ok(
        err instanceof InvalidRolloutPlanError,
        `expected InvalidRolloutPlanError, got ${String(err)}`,
      );
      for (const e of expected) {
        const issue = err.issues.find((i) => i.path === e.path);
        assert.ok(issue, `no issue at ${e.path}; issues: ${JSON.stringify(err.issues)}`);
        assert.match(issue.problem, e.match);
        assert.match(err.message, new RegExp(e.path.replace(/[[\].]/g, '\\$&')));
      }
      return true;
    },
  );
}

describe('rollout planner', () => {
  it('given a canary and cumulative percentage waves, when planned, then the canary goes first and the rest is split by share in name order', () => {
    const plan = planRollout(given());
    assert.deepEqual(
      plan.waves.map((w) => w.name),
      ['canary', 'half', 'rest'],
    );
    assert.deepEqual(names(plan, 0), ['c-01']);
    // 9 clusters after the canary: 50 % → ceil(4.5) = 5, then the remaining 4.
    assert.deepEqual(names(plan, 1), ['c-02', 'c-03', 'c-04', 'c-05', 'c-06']);
    assert.deepEqual(names(plan, 2), ['c-07', 'c-08', 'c-09', 'c-10']);
    assert.equal(plannedClusters(plan).length, 10);
  });

  it('given maxConcurrent 2, when planned, then every wave is cut into batches of at most 2 and a wave may override it', () => {
    const plan = planRollout(
      given(
        {},
        {
          waves: [
            { name: 'half', percent: 50 },
            { name: 'rest', percent: 100, maxConcurrent: 4 },
          ],
        },
      ),
    );
    assert.deepEqual(
      plan.waves[1]!.batches.map((b) => b.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      plan.waves[2]!.batches.map((b) => b.length),
      [4],
    );
  });

  it('given selector waves, when planned, then each takes the matching clusters not planned earlier', () => {
    const plan = planRollout(
      given(
        {},
        {
          canary: { selector: { region: 'eu' } },
          waves: [{ name: 'us', selector: { region: 'us' } }],
        },
      ),
    );
    assert.deepEqual(names(plan, 0), ['c-01', 'c-02', 'c-03', 'c-04', 'c-05']);
    assert.deepEqual(names(plan, 1), ['c-06', 'c-07', 'c-08', 'c-09', 'c-10']);
  });

  it('given bake times, approvals and a manual trigger, when planned, then each wave carries them and the first wave needs approval', () => {
    const plan = planRollout(
      given(
        {},
        {
          trigger: 'manual',
          canary: { clusters: ['c-01'], bakeTimeMs: 5 },
          waves: [
            { name: 'half', percent: 50, requiresApproval: true, bakeTimeMs: 0 },
            { name: 'rest', percent: 100 },
          ],
        },
      ),
    );
    assert.deepEqual(
      plan.waves.map((w) => [w.name, w.bakeTimeMs, w.requiresApproval]),
      [
        ['canary', 5, true],
        ['half', 0, true],
        ['rest', 1000, false],
      ],
    );
  });

  it('given last good versions, when planned, then each cluster carries what compensation restores and clusters already on the target are left out', () => {
    const lastGood: Record<string, string> = Object.fromEntries(fleet10.map((c) => [c.name, 'v1']));
    lastGood['c-10'] = 'v2';
    delete lastGood['c-09'];
    const plan = planRollout(given({ lastGood }));
    assert.deepEqual(plan.alreadyCurrent, ['c-10']);
    const all = plannedClusters(plan);
    assert.equal(all.find((c) => c.name === 'c-09')!.previousVersion, null);
    assert.equal(all.find((c) => c.name === 'c-02')!.previousVersion, 'v1');
    assert.ok(!all.some((c) => c.name === 'c-10'));
  });

  it('given a fleet that already runs the target version, when planned, then there is nothing to do and no error', () => {
    const lastGood = Object.fromEntries(fleet10.map((c) => [c.name, 'v2']));
    const plan = planRollout(given({ lastGood }));
    assert.deepEqual(plan.waves, []);
    assert.equal(plan.alreadyCurrent.length, 10);
  });

  it('given a canary that already runs the target version, when planned, then the canary wave is skipped and the rest still planned', () => {
    const lastGood: Record<string, string> = Object.fromEntries(fleet10.map((c) => [c.name, 'v1']));
    lastGood['c-01'] = 'v2';
    const plan = planRollout(given({ lastGood }));
    assert.deepEqual(
      plan.waves.map((w) => w.name),
      ['half', 'rest'],
    );
    assert.ok(!plannedClusters(plan).some((c) => c.name === 'c-01'));
  });

  it('given a policy selector and edge sites, when planned, then only the scope is planned and edge sites keep kind and online state', () => {
    const fleet = [...fleet10, cluster('edge-1', { region: 'eu' }, 'edge', false)];
    const plan = planRollout(
      given({ fleet }, { selector: { region: 'eu' }, waves: [{ name: 'rest', percent: 100 }] }),
    );
    const all = plannedClusters(plan);
    assert.deepEqual(
      all.map((c) => c.name),
      ['c-01', 'c-02', 'c-03', 'c-04', 'c-05', 'edge-1'],
    );
    assert.deepEqual(all.at(-1), {
      name: 'edge-1',
      kind: 'edge',
      previousVersion: null,
      onlineAtPlan: false,
    });
    assert.deepEqual(plan.offlineEdge, basePolicy.offlineEdge);
    assert.equal(plan.convergenceDeadlineMs, 30_000);
  });

  it('given the same input twice, when planned, then the plans are equal whatever the fleet order', () => {
    const a = planRollout(given());
    const b = planRollout(given({ fleet: [...fleet10].reverse() }));
    assert.deepEqual(a, b);
  });

  describe('invalid input: each problem is named with its field path', () => {
    it('empty ids and version', () =>
      thenThrows(
        given({ rolloutId: '', targetVersion: '' }),
        { path: 'rolloutId', match: /empty/ },
        { path: 'targetVersion', match: /empty/ },
      ));
    it('bad numbers', () =>
      thenThrows(
        given({}, { maxConcurrent: 0, bakeTimeMs: -1, convergenceDeadlineMs: 0 }),
        { path: 'policy.maxConcurrent', match: /≥ 1/ },
        { path: 'policy.bakeTimeMs', match: /≥ 0/ },
        { path: 'policy.convergenceDeadlineMs', match: /> 0/ },
      ));
    it('bad health thresholds', () =>
      thenThrows(
        given({}, { health: { maxErrorRate: 2, maxP99Ratio: 0.5, minRequests: -3 } }),
        { path: 'policy.health.maxErrorRate', match: /0 to 1/ },
        { path: 'policy.health.maxP99Ratio', match: /≥ 1/ },
        { path: 'policy.health.minRequests', match: /whole number/ },
      ));
    it('bad offline edge rule and trigger', () =>
      thenThrows(
        given(
          {},
          { offlineEdge: { waitMs: -5, action: 'ignore' as never }, trigger: 'sometimes' as never },
        ),
        { path: 'policy.offlineEdge.action', match: /skip-and-mark-pending/ },
        { path: 'policy.offlineEdge.waitMs', match: /≥ 0/ },
        { path: 'policy.trigger', match: /automatic/ },
      ));
    it('no waves and no canary', () =>
      thenThrows(given({}, { canary: undefined, waves: [] }), {
        path: 'policy.waves',
        match: /at least one wave/,
      }));
    it('a wave with both or neither percent and selector, a duplicate name, a percent that does not grow', () =>
      thenThrows(
        given(
          {},
          {
            waves: [
              { name: 'a', percent: 50, selector: { region: 'eu' } },
              { name: 'b' },
              { name: 'a', percent: 40 },
              { name: 'canary', percent: 150 },
            ],
          },
        ),
        { path: 'policy.waves[0]', match: /exactly one of percent and selector/ },
        { path: 'policy.waves[1]', match: /exactly one/ },
        { path: 'policy.waves[2].name', match: /used twice/ },
        { path: 'policy.waves[2].percent', match: /must grow/ },
        { path: 'policy.waves[3].name', match: /used twice/ },
        { path: 'policy.waves[3].percent', match: /at most 100/ },
      ));
    it('bad wave overrides', () =>
      thenThrows(
        given(
          {},
          { waves: [{ name: 'rest', percent: 100, maxConcurrent: 1.5, bakeTimeMs: Number.NaN }] },
        ),
        { path: 'policy.waves[0].maxConcurrent', match: /whole number/ },
        { path: 'policy.waves[0].bakeTimeMs', match: /duration/ },
      ));
    it('a canary without clusters or selector, or naming an unknown cluster', () => {
      thenThrows(given({}, { canary: {} }), { path: 'policy.canary', match: /names no cluster/ });
      thenThrows(given({}, { canary: { clusters: ['nope'] } }), {
        path: 'policy.canary.clusters',
        match: /"nope" is not a cluster in scope/,
      });
    });
    it('a duplicate or kindless cluster in the fleet', () =>
      thenThrows(
        given({ fleet: [cluster('a'), cluster('a'), { ...cluster('b'), kind: 'vm' as never }] }),
        { path: 'fleet[1].name', match: /listed twice/ },
        { path: 'fleet[2].kind', match: /"cluster" or "edge"/ },
      ));
    it('a selector matching nothing', () =>
      thenThrows(given({}, { selector: { region: 'mars' } }), {
        path: 'policy.selector',
        match: /matches none of the 10 clusters/,
      }));
    it('a wave that selects no cluster', () =>
      thenThrows(
        given(
          {},
          {
            waves: [
              { name: 'mars', selector: { region: 'mars' } },
              { name: 'rest', percent: 100 },
            ],
          },
        ),
        { path: 'policy.waves[0]', match: /wave "mars" selects no cluster/ },
      ));
    it('waves that leave clusters without the version', () =>
      thenThrows(given({}, { waves: [{ name: 'half', percent: 50 }] }), {
        path: 'policy.waves',
        match: /4 cluster\(s\) would never get the version \(c-07, c-08, c-09, c-10\)/,
      }));
  });
});
