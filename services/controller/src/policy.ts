import { parseDuration, type RolloutPolicy as PolicyResource } from '@shoal/model';
import type { RolloutPolicy } from '@shoal/workflows';

/** When no RolloutPolicy is applied: everything at once, gated on ACKs, no bake. */
export const DEFAULT_POLICY: RolloutPolicy = {
  name: 'default (all at once)',
  trigger: 'automatic',
  waves: [{ name: 'all', percent: 100 }],
  maxConcurrent: 50,
  bakeTimeMs: 0,
  health: { maxErrorRate: 0.05, minRequests: 20 },
  convergenceDeadlineMs: 60_000,
  offlineEdge: { waitMs: 10_000, action: 'skip-and-mark-pending' },
};

const ms = (d: string | undefined, fallback: number): number => (d ? parseDuration(d) : fallback);
const labels = (sel: { matchLabels?: Readonly<Record<string, string>> } | undefined) =>
  sel?.matchLabels;

/**
 * The RolloutPolicy resource users write (services/model) → the plan input the rollout
 * workflow takes (workflows/src/rollout/types.ts). Pure.
 */
export function toWorkflowPolicy(p: PolicyResource): RolloutPolicy {
  const s = p.spec;
  const canary = s.canary;
  const edge = s.offlineEdge;
  return {
    name: p.metadata.name,
    trigger: 'automatic',
    ...(labels(s.targets?.selector) ? { selector: labels(s.targets?.selector)! } : {}),
    ...(canary
      ? {
          canary: {
            ...(canary.clusters ? { clusters: [...canary.clusters] } : {}),
            ...(labels(canary.selector) ? { selector: labels(canary.selector)! } : {}),
            ...(canary.bakeTime ? { bakeTimeMs: parseDuration(canary.bakeTime) } : {}),
            requiresApproval: canary.approval === 'Manual',
          },
        }
      : {}),
    waves: (s.waves ?? [{ name: 'all', percentage: 100 }]).map((w, i) => ({
      name: w.name ?? `wave-${i + 1}`,
      ...(w.percentage !== undefined ? { percent: w.percentage } : {}),
      ...(labels(w.selector) ? { selector: labels(w.selector)! } : {}),
      ...(w.maxConcurrent ? { maxConcurrent: w.maxConcurrent } : {}),
      ...(w.bakeTime ? { bakeTimeMs: parseDuration(w.bakeTime) } : {}),
      requiresApproval: w.approval === 'Manual',
    })),
    maxConcurrent: s.maxConcurrent ?? DEFAULT_POLICY.maxConcurrent,
    bakeTimeMs: ms(s.bakeTime, 0),
    health: {
      maxErrorRate: s.health?.maxErrorRate ?? DEFAULT_POLICY.health.maxErrorRate,
      ...(s.health?.maxP99LatencyRatio ? { maxP99Ratio: s.health.maxP99LatencyRatio } : {}),
      minRequests: DEFAULT_POLICY.health.minRequests,
    },
    convergenceDeadlineMs: ms(s.convergenceDeadline, DEFAULT_POLICY.convergenceDeadlineMs),
    offlineEdge: {
      waitMs: ms(edge?.deadline, DEFAULT_POLICY.offlineEdge.waitMs),
      action: edge?.action === 'Fail' ? 'fail' : 'skip-and-mark-pending',
    },
  };
}
