/**
 * `npm run bench -- rollout`: 1,000 simulated clusters (2 simulated nodes each, ACKing through
 * the NATS convergence protocol), 5 waves, no bake time.
 *
 * - rollout_1000_clusters_s: start → completed (target ≤ 60 s).
 * - rollback_1000_clusters_s: from a failed health gate in the last wave until every cluster is
 *   back on the old version (target ≤ 15 s).
 * Baseline, same run, same fleet protocols: a plain loop that assigns every cluster and polls
 * convergence, wave by wave, with no Temporal, no events and no gates (the floor of the path).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { silentLogger } from '@shoal/common';
import { temporalExecutable } from '@shoal/deploy';
import { sleep, startNatsServer } from '@shoal/testkit';
import {
  KvConfigAssigner,
  NatsConvergenceProbe,
  bundleRolloutWorkflows,
  openAssignments,
  rolloutCommands,
  startHarness,
  type Harness,
  type RolloutPolicy,
} from '@shoal/workflows';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const N = 1000;
const TARGETS = { rollout_1000_clusters_s: 60, rollback_1000_clusters_s: 15 };
const names = Array.from({ length: N }, (_, i) => `c-${String(i).padStart(4, '0')}`);
const fleet = names.map((name) => ({ name, nodes: 2, version: 'v1' }));
const policy: RolloutPolicy = {
  name: 'bench',
  canary: { clusters: names.slice(0, 10) },
  waves: [
    { name: 'w25', percent: 25 },
    { name: 'w50', percent: 50 },
    { name: 'w75', percent: 75 },
    { name: 'w100', percent: 100 },
  ],
  maxConcurrent: 100,
  bakeTimeMs: 0,
  health: { maxErrorRate: 0.05 },
  convergenceDeadlineMs: 60_000,
  offlineEdge: { waitMs: 0, action: 'fail' },
};
const tuning = { pollMs: 50, heartbeatTimeoutMs: 10_000 };
const waveSlices = [
  names.slice(0, 10),
  names.slice(10, 258),
  names.slice(258, 505),
  names.slice(505, 753),
  names.slice(753),
];

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

/** Baseline: assign and poll convergence wave by wave through the same NATS protocols. */
async function baseline(h: Harness, version: string): Promise<number> {
  const assigner = new KvConfigAssigner(await openAssignments(h.nc, h.names.assignmentsBucket));
  const probe = new NatsConvergenceProbe(h.nc, h.names.convergenceSubject);
  const t0 = performance.now();
  for (const wave of waveSlices) {
    for (const c of wave) await assigner.assign(c, version);
    let pending = wave;
    while (pending.length > 0) {
      const r = await Promise.all(pending.map((c) => probe.check(c, version)));
      pending = pending.filter((_, i) => !r[i]!.converged);
      if (pending.length > 0) await sleep(50);
    }
  }
  return (performance.now() - t0) / 1000;
}

const log = (s: string) => process.stdout.write(`${s}\n`);
const nats = await startNatsServer();
const exe = temporalExecutable(silentLogger());
const env = await TestWorkflowEnvironment.createLocal({
  server: { executable: { type: 'existing-path', path: exe.path } },
});
const harnesses: Harness[] = [];
try {
  const bundle = await bundleRolloutWorkflows();
  const common = {
    natsUrl: nats.url,
    temporalAddress: env.address,
    namespace: env.namespace ?? 'default',
    bundle,
  };
  const base = await startHarness({ ...common, fleet, worker: false });
  harnesses.push(base);
  const baseRollout = await baseline(base, 'v2');
  const baseRollback = await baseline(base, 'v1');
  log(
    `baseline: direct rollout ${baseRollout.toFixed(2)} s, direct rollback ${baseRollback.toFixed(2)} s`,
  );

  const h = await startHarness({ ...common, fleet });
  harnesses.push(h);
  let t0 = performance.now();
  const ok = await h.start({ rolloutId: `bench-${h.id}-v2`, policy, targetVersion: 'v2', tuning });
  const r1 = await ok.result();
  const rollout = (performance.now() - t0) / 1000;
  if (r1.status !== 'completed' || h.fleet.notOn('v2').length > 0)
    throw new Error(`rollout ended ${r1.status}`);

  h.fleet.injectErrors(names[N - 1]!, 'v3', 0.5);
  const bad = await h.start({ rolloutId: `bench-${h.id}-v3`, policy, targetVersion: 'v3', tuning });
  const t1 = performance.now();
  for (;;) {
    const p = await rolloutCommands.progress(bad).catch(() => undefined);
    if (p?.state === 'rolling-back' || p?.state === 'rolled-back') break;
    await sleep(10);
  }
  t0 = performance.now();
  await until(() => h.fleet.notOn('v2').length === 0, 120_000, 'every cluster back on v2');
  const rollback = (performance.now() - t0) / 1000;
  const r2 = await bad.result();
  const failedRun = (performance.now() - t1) / 1000;
  if (r2.status !== 'rolled-back') throw new Error(`failing rollout ended ${r2.status}`);

  const result = {
    rollout_1000_clusters_s: round(rollout),
    rollback_1000_clusters_s: round(rollback),
    baseline_direct_rollout_s: round(baseRollout),
    baseline_direct_rollback_s: round(baseRollback),
    failed_rollout_total_s: round(failedRun),
    ratio_rollout_vs_target: round(rollout / TARGETS.rollout_1000_clusters_s),
    ratio_rollback_vs_target: round(rollback / TARGETS.rollback_1000_clusters_s),
    ratio_rollout_vs_baseline: round(rollout / baseRollout),
    ratio_rollback_vs_baseline: round(rollback / baseRollback),
    targets: TARGETS,
    setup: {
      clusters: N,
      nodesPerCluster: 2,
      waves: 5,
      maxConcurrent: 100,
      bakeTimeMs: 0,
      ackDelayMs: 20,
      pollMs: tuning.pollMs,
    },
  };
  log(
    `rollout_1000_clusters_s  ${result.rollout_1000_clusters_s} s (target ≤ 60: ${result.ratio_rollout_vs_target}× of target, ${result.ratio_rollout_vs_baseline}× baseline)`,
  );
  log(
    `rollback_1000_clusters_s ${result.rollback_1000_clusters_s} s (target ≤ 15: ${result.ratio_rollback_vs_target}× of target, ${result.ratio_rollback_vs_baseline}× baseline)`,
  );
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'rollout.json'), `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${join(out, 'rollout.json')}`);
} finally {
  for (const h of harnesses) await h.close();
  await env.teardown();
  await nats.dispose();
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
