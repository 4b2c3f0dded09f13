/**
 * The rollout planner: policy + fleet + target version + last good versions → waves of batches.
 * Pure and deterministic (clusters are taken in name order), so the same input always gives the
 * same plan. Every problem in the input is reported at once, with its field path.
 */
import { InvalidRolloutPlanError, type PlanIssue } from '../errors.js';
import type {
  FleetCluster,
  LabelSelector,
  PlanInput,
  PlannedCluster,
  PlannedWave,
  RolloutPlan,
  RolloutPolicy,
} from './types.js';

export const CANARY_WAVE = 'canary';

export function matches(labels: LabelSelector, selector: LabelSelector): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const isWhole = (n: unknown, min: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= min;
const isDuration = (n: unknown): n is number =>
  typeof n === 'number' && Number.isFinite(n) && n >= 0;

function checkPolicy(policy: RolloutPolicy, issues: PlanIssue[]): void {
  const add = (path: string, problem: string) => issues.push({ path, problem });
  if (!policy.name) add('policy.name', 'is empty: give the policy a name');
  if (policy.trigger !== undefined && !['automatic', 'manual'].includes(policy.trigger)) {
    add('policy.trigger', `must be "automatic" or "manual", got "${String(policy.trigger)}"`);
  }
  if (!isWhole(policy.maxConcurrent, 1)) {
    add('policy.maxConcurrent', `must be a whole number ≥ 1, got ${String(policy.maxConcurrent)}`);
  }
  if (!isDuration(policy.bakeTimeMs)) {
    add('policy.bakeTimeMs', `must be a duration ≥ 0 ms, got ${String(policy.bakeTimeMs)}`);
  }
  if (!isDuration(policy.convergenceDeadlineMs) || policy.convergenceDeadlineMs === 0) {
    add(
      'policy.convergenceDeadlineMs',
      `must be a duration > 0 ms, got ${String(policy.convergenceDeadlineMs)}`,
    );
  }
  const h = policy.health;
  if (typeof h?.maxErrorRate !== 'number' || !(h.maxErrorRate >= 0 && h.maxErrorRate <= 1)) {
    add(
      'policy.health.maxErrorRate',
      `must be a share from 0 to 1 (0.01 = 1 %), got ${String(h?.maxErrorRate)}`,
    );
  }
  if (h?.maxP99Ratio !== undefined && !(h.maxP99Ratio >= 1)) {
    add(
      'policy.health.maxP99Ratio',
      `must be ≥ 1 (1.5 = 50 % slower than the previous version), got ${h.maxP99Ratio}`,
    );
  }
  if (h?.minRequests !== undefined && !isWhole(h.minRequests, 0)) {
    add('policy.health.minRequests', `must be a whole number ≥ 0, got ${h.minRequests}`);
  }
  const o = policy.offlineEdge;
  if (!o || !['skip-and-mark-pending', 'fail'].includes(o.action)) {
    add(
      'policy.offlineEdge.action',
      `must be "skip-and-mark-pending" or "fail", got "${String(o?.action)}"`,
    );
  }
  if (!isDuration(o?.waitMs)) {
    add('policy.offlineEdge.waitMs', `must be a duration ≥ 0 ms, got ${String(o?.waitMs)}`);
  }
  if (policy.canary) {
    const c = policy.canary;
    if ((c.clusters?.length ?? 0) === 0 && !c.selector) {
      add('policy.canary', 'names no cluster and has no selector: set one, or remove the canary');
    }
    if (c.bakeTimeMs !== undefined && !isDuration(c.bakeTimeMs)) {
      add('policy.canary.bakeTimeMs', `must be a duration ≥ 0 ms, got ${c.bakeTimeMs}`);
    }
  }
  if (!Array.isArray(policy.waves)) {
    add('policy.waves', 'must be a list of waves');
    return;
  }
  if (policy.waves.length === 0 && !policy.canary) {
    add('policy.waves', 'is empty and there is no canary: add at least one wave');
  }
  const names = new Set<string>(policy.canary ? [CANARY_WAVE] : []);
  let lastPercent = 0;
  policy.waves.forEach((w, i) => {
    const at = `policy.waves[${i}]`;
    if (!w.name) add(`${at}.name`, 'is empty: waves are approved by name');
    else if (names.has(w.name))
      add(`${at}.name`, `"${w.name}" is used twice: names must be unique`);
    names.add(w.name);
    if ((w.percent === undefined) === (w.selector === undefined)) {
      add(at, 'needs exactly one of percent and selector');
    }
    if (w.percent !== undefined) {
      if (!(w.percent > 0 && w.percent <= 100)) {
        add(`${at}.percent`, `must be above 0 and at most 100, got ${w.percent}`);
      } else if (w.percent <= lastPercent) {
        add(
          `${at}.percent`,
          `is cumulative and must grow: ${w.percent} is not above the earlier ${lastPercent}`,
        );
      } else lastPercent = w.percent;
    }
    if (w.maxConcurrent !== undefined && !isWhole(w.maxConcurrent, 1)) {
      add(`${at}.maxConcurrent`, `must be a whole number ≥ 1, got ${w.maxConcurrent}`);
    }
    if (w.bakeTimeMs !== undefined && !isDuration(w.bakeTimeMs)) {
      add(`${at}.bakeTimeMs`, `must be a duration ≥ 0 ms, got ${w.bakeTimeMs}`);
    }
  });
}

function checkFleet(fleet: readonly FleetCluster[], issues: PlanIssue[]): void {
  const seen = new Set<string>();
  fleet.forEach((c, i) => {
    if (!c.name) issues.push({ path: `fleet[${i}].name`, problem: 'is empty' });
    else if (seen.has(c.name)) {
      issues.push({ path: `fleet[${i}].name`, problem: `cluster "${c.name}" is listed twice` });
    }
    seen.add(c.name);
    if (c.kind !== 'cluster' && c.kind !== 'edge') {
      issues.push({
        path: `fleet[${i}].kind`,
        problem: `must be "cluster" or "edge", got "${String(c.kind)}"`,
      });
    }
  });
}

function batchesOf(clusters: readonly PlannedCluster[], size: number): PlannedCluster[][] {
  const out: PlannedCluster[][] = [];
  for (let i = 0; i < clusters.length; i += size) out.push(clusters.slice(i, i + size));
  return out;
}

/** Build the plan, or throw InvalidRolloutPlanError listing every problem. */
export function planRollout(input: PlanInput): RolloutPlan {
  const { rolloutId, policy, fleet, targetVersion, lastGood } = input;
  const issues: PlanIssue[] = [];
  if (!rolloutId) issues.push({ path: 'rolloutId', problem: 'is empty' });
  if (!targetVersion) issues.push({ path: 'targetVersion', problem: 'is empty' });
  checkPolicy(policy, issues);
  checkFleet(fleet, issues);
  const fail = () => new InvalidRolloutPlanError(rolloutId, policy.name, issues);
  if (issues.length > 0) throw fail();

  const inScope = fleet
    .filter((c) => !policy.selector || matches(c.labels, policy.selector))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (inScope.length === 0) {
    issues.push({
      path: 'policy.selector',
      problem: `matches none of the ${fleet.length} clusters of the fleet: check its labels`,
    });
    throw fail();
  }
  const alreadyCurrent = inScope.filter((c) => lastGood[c.name] === targetVersion);
  const todo = inScope.filter((c) => lastGood[c.name] !== targetVersion);
  const toPlanned = (c: FleetCluster): PlannedCluster => ({
    name: c.name,
    kind: c.kind,
    previousVersion: lastGood[c.name] ?? null,
    onlineAtPlan: c.online,
  });
  const taken = new Set<string>();
  const waves: PlannedWave[] = [];
  const manual = policy.trigger === 'manual';
  const current = new Set(alreadyCurrent.map((c) => c.name));
  // A wave whose clusters all run the target version already has nothing to do: skip it
  // (a restarted control plane re-submits the version the fleet already runs).
  const onlyCurrent = (matching: readonly FleetCluster[]) =>
    matching.length > 0 &&
    matching.every((x) => current.has(x.name) || taken.has(x.name)) &&
    matching.some((x) => current.has(x.name));

  if (policy.canary) {
    const c = policy.canary;
    const names = new Set(c.clusters ?? []);
    for (const n of names) {
      if (!inScope.some((x) => x.name === n)) {
        issues.push({
          path: 'policy.canary.clusters',
          problem: `"${n}" is not a cluster in scope of this policy: check the name and the policy selector`,
        });
      }
    }
    const picked = todo.filter(
      (x) => names.has(x.name) || (c.selector !== undefined && matches(x.labels, c.selector)),
    );
    const matching = inScope.filter(
      (x) => names.has(x.name) || (c.selector !== undefined && matches(x.labels, c.selector)),
    );
    if (picked.length === 0 && issues.length === 0 && !onlyCurrent(matching)) {
      issues.push({
        path: 'policy.canary',
        problem: 'selects no cluster that still needs this version: adjust it or remove it',
      });
    }
    picked.forEach((x) => taken.add(x.name));
    if (picked.length > 0 || !onlyCurrent(matching))
      waves.push({
        index: 0,
        name: CANARY_WAVE,
        batches: batchesOf(picked.map(toPlanned), policy.maxConcurrent),
        bakeTimeMs: c.bakeTimeMs ?? policy.bakeTimeMs,
        requiresApproval: (c.requiresApproval ?? false) || manual,
      });
  }

  const rest = todo.filter((x) => !taken.has(x.name)).length;
  policy.waves.forEach((w, i) => {
    let picked: FleetCluster[];
    let matching: FleetCluster[] = [];
    if (w.selector) {
      const sel = w.selector;
      matching = inScope.filter((x) => matches(x.labels, sel));
      picked = todo.filter((x) => !taken.has(x.name) && matches(x.labels, sel));
    } else {
      const reach = Math.ceil(((w.percent ?? 0) * rest) / 100);
      const takenAfterCanary =
        taken.size - (waves[0]?.name === CANARY_WAVE ? countOf(waves[0]) : 0);
      picked = todo
        .filter((x) => !taken.has(x.name))
        .slice(0, Math.max(0, reach - takenAfterCanary));
    }
    if (picked.length === 0 && (onlyCurrent(matching) || (!w.selector && rest === 0))) return;
    if (picked.length === 0) {
      issues.push({
        path: `policy.waves[${i}]`,
        problem: `wave "${w.name}" selects no cluster that still needs this version (earlier waves took them): change or remove it`,
      });
      return;
    }
    picked.forEach((x) => taken.add(x.name));
    waves.push({
      index: waves.length,
      name: w.name,
      batches: batchesOf(picked.map(toPlanned), w.maxConcurrent ?? policy.maxConcurrent),
      bakeTimeMs: w.bakeTimeMs ?? policy.bakeTimeMs,
      requiresApproval: (w.requiresApproval ?? false) || (manual && waves.length === 0),
    });
  });

  const left = todo.filter((x) => !taken.has(x.name));
  if (left.length > 0 && issues.length === 0) {
    const sample = left.slice(0, 5).map((x) => x.name);
    issues.push({
      path: 'policy.waves',
      problem:
        `${left.length} cluster(s) would never get the version (${sample.join(', ')}` +
        `${left.length > sample.length ? ', …' : ''}): end with a 100 % wave or add a selector wave`,
    });
  }
  if (issues.length > 0) throw fail();

  return {
    rolloutId,
    policyName: policy.name,
    targetVersion,
    waves,
    health: policy.health,
    convergenceDeadlineMs: policy.convergenceDeadlineMs,
    offlineEdge: policy.offlineEdge,
    alreadyCurrent: alreadyCurrent.map((c) => c.name),
  };
}

function countOf(wave: PlannedWave): number {
  return wave.batches.reduce((n, b) => n + b.length, 0);
}

/** Every cluster of a plan, in rollout order. */
export function plannedClusters(plan: RolloutPlan): PlannedCluster[] {
  return plan.waves.flatMap((w) => w.batches.flat());
}
