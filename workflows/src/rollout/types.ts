/**
 * The data a rollout works on. Plain, serialisable types only: they travel through Temporal
 * payloads (workflow input, activity arguments, query results) and must stay importable from the
 * workflow sandbox.
 *
 * `RolloutPolicy` mirrors the shape services/model will own; the lead reconciles the two.
 */

/** Label selector: every key must be present with exactly this value. */
export type LabelSelector = Readonly<Record<string, string>>;

export interface RolloutPolicy {
  /** Policy name, for messages. */
  readonly name: string;
  /** Which clusters and edge sites this policy rolls out to; absent: the whole fleet. */
  readonly selector?: LabelSelector;
  /** automatic: start at once. manual: the first wave waits for an operator's approve. */
  readonly trigger?: 'automatic' | 'manual';
  /** Canary clusters, rolled out first (by name and/or label). Absent: no canary wave. */
  readonly canary?: {
    readonly clusters?: readonly string[];
    readonly selector?: LabelSelector;
    readonly bakeTimeMs?: number;
    readonly requiresApproval?: boolean;
  };
  /** The waves after the canary, in order. The fleet must be covered by the end. */
  readonly waves: readonly WaveSpec[];
  /** Clusters assigned at once inside a wave (a batch); a wave may override it. */
  readonly maxConcurrent: number;
  /** Default bake time per wave after convergence and before the health gate. */
  readonly bakeTimeMs: number;
  readonly health: HealthThresholds;
  /** How long every connected node of a cluster has to ACK, counted from the batch start. */
  readonly convergenceDeadlineMs: number;
  readonly offlineEdge: OfflineEdgeRule;
}

export interface WaveSpec {
  readonly name: string;
  /**
   * Cumulative share of the (non-canary) fleet reached at the end of this wave, 1-100; clusters
   * are taken in name order. Exactly one of `percent` and `selector`.
   */
  readonly percent?: number;
  /** Every not yet planned cluster that matches these labels. */
  readonly selector?: LabelSelector;
  readonly maxConcurrent?: number;
  readonly bakeTimeMs?: number;
  readonly requiresApproval?: boolean;
}

export interface HealthThresholds {
  /** Highest allowed share of failed requests (5xx), 0-1, on the new version. */
  readonly maxErrorRate: number;
  /** Highest allowed p99 latency as a multiple of the previous version's p99 on the same cluster. */
  readonly maxP99Ratio?: number;
  /** Fewer requests than this on a cluster: its health is not judged (reported as a note). */
  readonly minRequests?: number;
}

/** What to do with an edge site that has no connected node when its batch runs. */
export interface OfflineEdgeRule {
  /** Wait this long for the site to come back before applying `action`. */
  readonly waitMs: number;
  /**
   * skip-and-mark-pending: the version stays assigned (the xDS layer serves it on reconnect), the
   * site is marked pending and a catch-up workflow confirms it later. fail: the rollout fails and
   * rolls back.
   */
  readonly action: 'skip-and-mark-pending' | 'fail';
}

export type ClusterKind = 'cluster' | 'edge';

export interface FleetCluster {
  readonly name: string;
  readonly kind: ClusterKind;
  readonly labels: LabelSelector;
  readonly online: boolean;
}

export interface PlanInput {
  readonly rolloutId: string;
  readonly policy: RolloutPolicy;
  readonly fleet: readonly FleetCluster[];
  readonly targetVersion: string;
  /** The last good version per cluster; a cluster missing here has never had a version. */
  readonly lastGood: Readonly<Record<string, string>>;
}

export interface PlannedCluster {
  readonly name: string;
  readonly kind: ClusterKind;
  /** What compensation restores; null: the cluster had no version, rollback unassigns. */
  readonly previousVersion: string | null;
  readonly onlineAtPlan: boolean;
}

export interface PlannedWave {
  readonly index: number;
  readonly name: string;
  /** Batches of at most maxConcurrent clusters, assigned one batch after the other. */
  readonly batches: readonly (readonly PlannedCluster[])[];
  readonly bakeTimeMs: number;
  readonly requiresApproval: boolean;
}

export interface RolloutPlan {
  readonly rolloutId: string;
  readonly policyName: string;
  readonly targetVersion: string;
  readonly waves: readonly PlannedWave[];
  readonly health: HealthThresholds;
  readonly convergenceDeadlineMs: number;
  readonly offlineEdge: OfflineEdgeRule;
  /** Clusters in scope that already run the target version: nothing to do. */
  readonly alreadyCurrent: readonly string[];
}

/** One node's answer as the xDS layer reports it. */
export interface NodeAckState {
  readonly node: string;
  readonly ackedVersion: string | null;
  readonly nack?: { readonly version: string; readonly message: string };
}

export interface ConvergenceReport {
  /** Every connected node ACKed the version (false when no node is connected). */
  readonly converged: boolean;
  readonly nodes: readonly NodeAckState[];
}

/** Request statistics of one version on one cluster, aggregated from node stats. */
export interface HealthSample {
  readonly requests: number;
  readonly errors: number;
  readonly p99Ms: number;
}
