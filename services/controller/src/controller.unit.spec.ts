import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseManifestsOrThrow,
  type MeshResource,
  type RolloutPolicy as PolicyResource,
} from '@shoal/model';
import { fleetVersion, placeResources, type DesiredRow } from './placement.js';
import { p99, StatsHealth } from './health.js';
import { toWorkflowPolicy } from './policy.js';

const row = (cluster: string, r: MeshResource): DesiredRow => ({
  cluster,
  kind: r.kind,
  namespace: r.metadata.namespace ?? '',
  name: r.metadata.name,
  spec: r,
});

const manifests = parseManifestsOrThrow(`
apiVersion: shoal.dev/v1alpha1
kind: Cluster
metadata: {name: east, labels: {tier: canary}}
spec: {}
---
apiVersion: shoal.dev/v1alpha1
kind: EdgeSite
metadata: {name: edge-1}
spec: {hub: east}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: shoal.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: default}
spec:
  canary: {clusters: [east], bakeTime: 2s}
  waves: [{name: rest, percentage: 100, approval: Manual}]
  bakeTime: 1s
  health: {maxErrorRate: 0.02, maxP99LatencyRatio: 1.5}
  convergenceDeadline: 30s
  offlineEdge: {action: Skip, deadline: 5s}
`);
const [east, edge, web, policy] = manifests as [
  MeshResource,
  MeshResource,
  MeshResource,
  MeshResource,
];

describe('placement', () => {
  it('given fleet-wide config (cluster "global"), places it into every member cluster and edge site', () => {
    const placed = placeResources([
      row('global', east),
      row('global', edge),
      row('global', web),
      row('global', policy),
    ]);
    assert.deepEqual(
      placed.map((p) => `${p.cluster}:${p.resource.kind}/${p.resource.metadata.name}`).sort(),
      ['east:Cluster/east', 'east:Service/web', 'edge-1:EdgeSite/edge-1', 'edge-1:Service/web'],
    );
  });

  it("gives clusters without a trust domain the control plane's, and keeps one that is set", () => {
    const placed = placeResources([row('global', east)], { trustDomain: 'shoal.local' });
    assert.equal(
      (placed[0]!.resource as { spec: { trustDomain: string } }).spec.trustDomain,
      'shoal.local',
    );
    const own = { ...east, spec: { trustDomain: 'corp.example' } } as MeshResource;
    const kept = placeResources([row('global', own)], { trustDomain: 'shoal.local' });
    assert.equal(
      (kept[0]!.resource as { spec: { trustDomain: string } }).spec.trustDomain,
      'corp.example',
    );
  });

  it('keeps what an agent reported in its own cluster, and counts that cluster as a member', () => {
    const placed = placeResources([row('west', web), row('global', east)]);
    assert.deepEqual(placed.map((p) => p.cluster).sort(), ['east', 'west']);
  });

  it('gives the same fleet version for the same cluster versions in any order', () => {
    const a = fleetVersion(
      new Map([
        ['east', 'v1'],
        ['west', 'v2'],
      ]),
    );
    const b = fleetVersion(
      new Map([
        ['west', 'v2'],
        ['east', 'v1'],
      ]),
    );
    assert.equal(a, b);
    assert.notEqual(
      a,
      fleetVersion(
        new Map([
          ['east', 'v1'],
          ['west', 'v3'],
        ]),
      ),
    );
    assert.match(a, /^fv-[0-9a-f]{16}$/);
  });
});

describe('RolloutPolicy resource → rollout plan input', () => {
  it('converts durations, approvals, thresholds and the offline-edge rule', () => {
    const p = toWorkflowPolicy(policy as PolicyResource);
    assert.deepEqual(p.canary, { clusters: ['east'], bakeTimeMs: 2000, requiresApproval: false });
    assert.deepEqual(p.waves, [{ name: 'rest', percent: 100, requiresApproval: true }]);
    assert.equal(p.bakeTimeMs, 1000);
    assert.equal(p.health.maxErrorRate, 0.02);
    assert.equal(p.health.maxP99Ratio, 1.5);
    assert.equal(p.convergenceDeadlineMs, 30_000);
    assert.deepEqual(p.offlineEdge, { waitMs: 5000, action: 'skip-and-mark-pending' });
  });
});

describe('health from node stats', () => {
  it('sums requests and errors per cluster and version and takes p99 from the merged histograms', async () => {
    const h = new StatsHealth(undefined as never);
    const stats = (requests: number, errors5xx: number, fast: number, slow: number) => ({
      requests,
      errors5xx,
      resets: 0,
      latencyBuckets: { '5': fast, '100': fast + slow },
      latencyCount: fast + slow,
    });
    h.add({ cluster: 'east', node: 'n1', at: '', versions: { v2: { web: stats(100, 3, 99, 1) } } });
    h.add({
      cluster: 'east',
      node: 'n2',
      at: '',
      versions: { v2: { web: stats(100, 1, 90, 10) }, v1: { web: stats(5, 0, 5, 0) } },
    });
    assert.deepEqual(await h.sample('east', 'v2'), { requests: 200, errors: 4, p99Ms: 100 });
    assert.deepEqual(await h.sample('east', 'v1'), { requests: 5, errors: 0, p99Ms: 5 });
    assert.equal(await h.sample('west', 'v2'), null);
    assert.equal(
      p99(
        new Map([
          [5, 99],
          [100, 1],
        ]),
        100,
      ),
      5,
    );
  });
});
