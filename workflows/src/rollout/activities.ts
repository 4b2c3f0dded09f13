/**
 * Rollout activities: every side effect of a rollout. Built by `createActivities(deps)` so they
 * run against the real xDS layer, event store and fleet registry, or against SimulatedFleet.
 * Each is idempotent (assigning a version twice, or publishing an event with the same id twice,
 * changes nothing), heartbeats while it waits, and raises non-retryable failures only where a
 * retry cannot help (a NACK, a missed deadline, an invalid plan).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from '@shoal/common';
import { InvalidRolloutPlanError } from '../errors.js';
import { rolloutEvent, type RolloutEventInput } from './events.js';
import { FailureTypes, type RejectionDetails } from './failures.js';
import { planRollout as plan } from './plan.js';
import type { RolloutDeps } from './ports.js';
import type {
  ClusterKind,
  HealthThresholds,
  NodeAckState,
  RolloutPlan,
  RolloutPolicy,
} from './types.js';

export interface ClusterRef {
  readonly name: string;
  readonly kind: ClusterKind;
  readonly previousVersion: string | null;
}

export interface HealthFinding {
  readonly cluster: string;
  readonly metric: 'error-rate' | 'p99';
  readonly observed: number;
  readonly limit: number;
}

export interface HealthVerdict {
  readonly ok: boolean;
  readonly failures: readonly HealthFinding[];
  /** Clusters not judged (too few requests or no statistics). */
  readonly notJudged: readonly string[];
}

export type EdgeSiteState =
  | { state: 'converged' }
  | { state: 'rejected'; node: string; message: string }
  | { state: 'superseded'; assigned: string | null }
  | { state: 'waiting' };

const sleep = (ms: number) => Context.current().sleep(ms);

function heartbeat(details?: unknown): void {
  Context.current().heartbeat(details);
}

function describeStuck(cluster: string, nodes: readonly NodeAckState[], version: string): string {
  if (nodes.length === 0) return `${cluster} (no connected node)`;
  const behind = nodes.filter((n) => n.ackedVersion !== version).map((n) => n.node);
  return `${cluster} (nodes not on ${version}: ${behind.join(', ')})`;
}

export function createActivities(deps: RolloutDeps, logger?: Logger) {
  const log = (cluster?: string) => logger?.child({ component: 'rollout', cluster });

  const publish = (e: RolloutEventInput) => deps.events.publish(rolloutEvent(e));

  return {
    /** Read the fleet and current assignments, then plan (pure). An invalid plan is final. */
    async planRollout(input: {
      rolloutId: string;
      policy: RolloutPolicy;
      targetVersion: string;
      lastGoodOverride?: Record<string, string>;
    }): Promise<RolloutPlan> {
      const fleet = await deps.fleet.list();
      const lastGood: Record<string, string> = {};
      for (const c of fleet) {
        const v = input.lastGoodOverride?.[c.name] ?? (await deps.assigner.current(c.name));
        if (v !== null) lastGood[c.name] = v;
      }
      try {
        return plan({ ...input, fleet, lastGood });
      } catch (err) {
        if (err instanceof InvalidRolloutPlanError) {
          throw ApplicationFailure.create({
            type: FailureTypes.invalidPlan,
            message: err.message,
            nonRetryable: true,
            details: [err.issues],
          });
        }
        throw err;
      }
    },

    /** Assign `version` to each cluster (null: unassign) and record ConfigVersionAssigned. */
    async assignVersions(input: {
      rolloutId: string;
      clusters: readonly { name: string; version: string | null; previousVersion: string | null }[];
      purpose: 'rollout' | 'rollback' | 'edge-rollback';
      atMs: number;
    }): Promise<void> {
      for (const c of input.clusters) {
        if (c.version === null) await deps.assigner.unassign(c.name);
        else await deps.assigner.assign(c.name, c.version);
        await publish({
          rolloutId: input.rolloutId,
          type: 'ConfigVersionAssigned',
          key: `${input.purpose}/${c.name}/${c.version ?? '-'}`,
          atMs: input.atMs,
          cluster: c.name,
          data: {
            cluster: c.name,
            version: c.version,
            previousVersion: c.previousVersion,
            purpose: input.purpose,
          },
        });
        heartbeat(c.name);
      }
    },

    /**
     * Wait until every connected node of every cluster ACKed `version`. A NACK fails at once,
     * naming the node and its message. An edge site with no connected node is reported offline
     * once `offlineUntilMs` passed; anything else still missing at `deadlineMs` fails.
     */
    async waitForConvergence(input: {
      clusters: readonly { name: string; kind: ClusterKind }[];
      version: string;
      deadlineMs: number;
      offlineUntilMs: number;
      pollMs: number;
    }): Promise<{ converged: string[]; offline: string[] }> {
      const done = new Set<string>(
        (Context.current().info.heartbeatDetails as { converged?: string[] } | undefined)
          ?.converged ?? [],
      );
      const offline = new Set<string>();
      for (;;) {
        const pending = input.clusters.filter((c) => !done.has(c.name) && !offline.has(c.name));
        const reports = await Promise.all(
          pending.map(async (c) => ({ c, r: await deps.probe.check(c.name, input.version) })),
        );
        const now = Date.now();
        const stuck: string[] = [];
        for (const { c, r } of reports) {
          const nack = r.nodes.find((n) => n.nack && n.nack.version === input.version);
          if (nack?.nack) {
            const details: RejectionDetails = {
              cluster: c.name,
              node: nack.node,
              version: input.version,
              message: nack.nack.message,
            };
            throw ApplicationFailure.create({
              type: FailureTypes.configRejected,
              message: `node ${nack.node} of cluster ${c.name} rejected version ${input.version}: ${nack.nack.message}`,
              nonRetryable: true,
              details: [details],
            });
          }
          if (r.converged) done.add(c.name);
          else if (c.kind === 'edge' && r.nodes.length === 0 && now >= input.offlineUntilMs) {
            offline.add(c.name);
          } else stuck.push(describeStuck(c.name, r.nodes, input.version));
        }
        heartbeat({ converged: [...done] });
        if (stuck.length === 0) {
          return { converged: [...done], offline: [...offline] };
        }
        if (now >= input.deadlineMs) {
          throw ApplicationFailure.create({
            type: FailureTypes.convergenceDeadline,
            message: `version ${input.version} did not converge before the deadline on ${stuck.length} cluster(s): ${stuck.slice(0, 5).join('; ')}`,
            nonRetryable: true,
          });
        }
        await sleep(input.pollMs);
      }
    },

    /** Error rate and p99 of the new version against the previous version, per cluster. */
    async evaluateHealth(input: {
      clusters: readonly ClusterRef[];
      version: string;
      thresholds: HealthThresholds;
    }): Promise<HealthVerdict> {
      const { thresholds: t } = input;
      const failures: HealthFinding[] = [];
      const notJudged: string[] = [];
      await Promise.all(
        input.clusters.map(async (c) => {
          const now = await deps.health.sample(c.name, input.version);
          if (!now || now.requests < Math.max(1, t.minRequests ?? 0)) {
            notJudged.push(c.name);
            return;
          }
          const rate = now.errors / now.requests;
          if (rate > t.maxErrorRate) {
            failures.push({
              cluster: c.name,
              metric: 'error-rate',
              observed: rate,
              limit: t.maxErrorRate,
            });
          }
          if (t.maxP99Ratio !== undefined && c.previousVersion !== null) {
            const before = await deps.health.sample(c.name, c.previousVersion);
            if (before && before.requests > 0 && before.p99Ms > 0) {
              const limit = before.p99Ms * t.maxP99Ratio;
              if (now.p99Ms > limit) {
                failures.push({ cluster: c.name, metric: 'p99', observed: now.p99Ms, limit });
              }
            }
          }
        }),
      );
      failures.sort((a, b) => (a.cluster < b.cluster ? -1 : 1));
      return { ok: failures.length === 0, failures, notJudged: notJudged.sort() };
    },

    async recordEvent(e: RolloutEventInput): Promise<void> {
      await publish(e);
    },

    /**
     * Compensation: give every cluster its previous version back (newest-first order is the
     * caller's), then confirm convergence. Returns the clusters it could not confirm, with why;
     * the workflow counts them and retries them.
     */
    async restoreVersions(input: {
      rolloutId: string;
      clusters: readonly ClusterRef[];
      fromVersion: string;
      atMs: number;
      deadlineMs: number;
      pollMs: number;
    }): Promise<{ unconfirmed: { cluster: string; reason: string }[] }> {
      for (const c of input.clusters) {
        if (c.previousVersion === null) await deps.assigner.unassign(c.name);
        else await deps.assigner.assign(c.name, c.previousVersion);
        await publish({
          rolloutId: input.rolloutId,
          type: 'ConfigVersionAssigned',
          key: `rollback/${c.name}/${c.previousVersion ?? '-'}`,
          atMs: input.atMs,
          cluster: c.name,
          data: {
            cluster: c.name,
            version: c.previousVersion,
            previousVersion: input.fromVersion,
            purpose: 'rollback',
          },
        });
        heartbeat();
      }
      let pending = input.clusters.filter((c) => c.previousVersion !== null);
      const rejected: { cluster: string; reason: string }[] = [];
      let stuck: { cluster: string; reason: string }[] = [];
      for (;;) {
        const next: ClusterRef[] = [];
        stuck = [];
        for (const c of pending) {
          const version = c.previousVersion!;
          const r = await deps.probe.check(c.name, version);
          // No connected node (an offline edge site): the assignment is all that can be done
          // now; the xDS layer serves it on reconnect.
          if (r.converged || r.nodes.length === 0) continue;
          const nack = r.nodes.find((n) => n.nack?.version === version);
          if (nack?.nack) {
            const reason = `node ${nack.node} rejected ${version}: ${nack.nack.message}`;
            rejected.push({ cluster: c.name, reason });
            log(c.name)?.error({ node: nack.node, reason }, 'rollback version NACKed');
            continue;
          }
          stuck.push({ cluster: c.name, reason: describeStuck(c.name, r.nodes, version) });
          next.push(c);
        }
        pending = next;
        heartbeat();
        if (pending.length === 0 || Date.now() >= input.deadlineMs) break;
        await sleep(input.pollMs);
      }
      return { unconfirmed: [...rejected, ...stuck] };
    },

    /**
     * Catch-up for a pending edge site: wait (heartbeating) until it ACKs, NACKs, or its
     * assignment moves on; return 'waiting' after maxWaitMs so the workflow can loop.
     */
    async awaitEdgeSite(input: {
      cluster: string;
      version: string;
      pollMs: number;
      maxWaitMs: number;
    }): Promise<EdgeSiteState> {
      const until = Date.now() + input.maxWaitMs;
      for (;;) {
        const assigned = await deps.assigner.current(input.cluster);
        if (assigned !== input.version) return { state: 'superseded', assigned };
        const r = await deps.probe.check(input.cluster, input.version);
        const nack = r.nodes.find((n) => n.nack?.version === input.version);
        if (nack?.nack) return { state: 'rejected', node: nack.node, message: nack.nack.message };
        if (r.converged) return { state: 'converged' };
        heartbeat();
        if (Date.now() >= until) return { state: 'waiting' };
        await sleep(input.pollMs);
      }
    },
  };
}

export type RolloutActivities = ReturnType<typeof createActivities>;
