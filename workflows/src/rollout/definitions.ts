/**
 * The messages a rollout workflow understands and the shapes they carry, shared by workflows.ts
 * (handlers) and client.ts (callers). Loaded in the workflow sandbox: no I/O, types only.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RolloutPlan, RolloutPolicy } from './types.js';

export type RolloutState =
  | 'planning'
  | 'running'
  | 'paused'
  | 'awaiting-approval'
  | 'baking'
  | 'checking-health'
  | 'rolling-back'
  | 'completed'
  | 'rolled-back'
  | 'aborted'
  | 'superseded'
  | 'compensation-failed';

export type ClusterState =
  | 'planned'
  | 'assigning'
  | 'converging'
  | 'converged'
  | 'edge-pending'
  | 'restored'
  | 'restore-failed';

export interface ClusterProgress {
  readonly name: string;
  readonly wave: number;
  state: ClusterState;
  reason?: string;
}

export interface WaveProgress {
  readonly index: number;
  readonly name: string;
  readonly requiresApproval: boolean;
  readonly clusters: number;
  readonly batches: number;
  state:
    | 'pending'
    | 'awaiting-approval'
    | 'running'
    | 'baking'
    | 'checking-health'
    | 'completed'
    | 'failed';
  approvedBy?: string;
}

export interface RolloutProgress {
  readonly rolloutId: string;
  readonly targetVersion: string;
  state: RolloutState;
  paused: boolean;
  currentWave: number;
  waves: WaveProgress[];
  clusters: ClusterProgress[];
  /** Why the rollout stopped, paused, failed or rolled back, oldest first. */
  reasons: string[];
  /** Compensation steps that failed (each is logged, recorded and retried). */
  compensationFailures: number;
  pendingEdgeSites: string[];
  /** How many times the workflow continued as new (long fleets). */
  runs: number;
}

export interface RolloutTuning {
  /** How often waiting activities poll the xDS layer. */
  readonly pollMs: number;
  /** Heartbeat timeout of waiting activities: how fast a dead worker's activity is retried. */
  readonly heartbeatTimeoutMs: number;
  /** Continue as new at the next batch once history has this many events. */
  readonly continueAsNewAfterEvents: number;
  /** Rounds of compensation for clusters that could not be confirmed back. */
  readonly compensationRounds: number;
  /** How long a catch-up activity waits for a pending edge site before it loops. */
  readonly edgeCatchUpWaitMs: number;
}

export const DEFAULT_TUNING: RolloutTuning = {
  pollMs: 250,
  heartbeatTimeoutMs: 10_000,
  continueAsNewAfterEvents: 10_000,
  compensationRounds: 3,
  edgeCatchUpWaitMs: 10 * 60_000,
};

export interface RolloutInput {
  readonly rolloutId: string;
  readonly policy: RolloutPolicy;
  readonly targetVersion: string;
  /** Last good versions that win over the current assignments (from a superseded rollout). */
  readonly lastGoodOverride?: Record<string, string>;
  readonly tuning?: Partial<RolloutTuning>;
  /** Set only by continue-as-new. */
  readonly carried?: CarriedState;
}

export interface TouchedBatch {
  readonly wave: number;
  readonly clusters: readonly {
    name: string;
    kind: 'cluster' | 'edge';
    previousVersion: string | null;
  }[];
}

export type StopRequest =
  { kind: 'abort'; reason: string; by: string } | { kind: 'supersede'; by: string };

export interface CarriedState {
  readonly plan: RolloutPlan;
  readonly progress: RolloutProgress;
  readonly cursor: { wave: number; batch: number; phase: 'gate' | 'batches' | 'bake' | 'health' };
  readonly touched: readonly TouchedBatch[];
  readonly stop?: StopRequest;
}

export interface RolloutResult {
  readonly rolloutId: string;
  readonly status: 'completed' | 'rolled-back' | 'aborted' | 'superseded';
  readonly reason?: string;
  readonly pendingEdgeSites: readonly string[];
  /** For a superseded rollout: the last good version of every cluster it touched. */
  readonly lastGood: Record<string, string>;
}

export interface OperatorCommand {
  /** Who asked (recorded in the event). */
  readonly by: string;
  readonly reason?: string;
}

export const pauseUpdate = defineUpdate<RolloutProgress, [OperatorCommand]>('pause');
export const resumeUpdate = defineUpdate<RolloutProgress, [OperatorCommand]>('resume');
export const approveUpdate = defineUpdate<RolloutProgress, [OperatorCommand & { wave: string }]>(
  'approve',
);
export const abortUpdate = defineUpdate<RolloutProgress, [OperatorCommand]>('abort');
export const progressQuery = defineQuery<RolloutProgress>('progress');
/** From the scope workflow: a newer version replaces this rollout (no rollback). */
export const supersedeSignal = defineSignal<[{ by: string }]>('supersede');

/** The scope workflow serialises rollouts of one scope and supersedes the running one. */
export interface Submission {
  readonly rolloutId: string;
  readonly policy: RolloutPolicy;
  readonly targetVersion: string;
  readonly tuning?: Partial<RolloutTuning>;
}

export interface ScopeState {
  readonly scope: string;
  running?: string;
  queued: string[];
  finished: {
    rolloutId: string;
    status: RolloutResult['status'] | 'superseded-before-start' | 'failed';
    reason?: string;
  }[];
  /** Last good versions carried from superseded rollouts into the next one. */
  carry: Record<string, string>;
}

export const submitSignal = defineSignal<[Submission]>('submit');
export const scopeQuery = defineQuery<ScopeState>('scope');

export const scopeWorkflowId = (scope: string): string => `rollout-scope/${scope}`;
/**
 * The workflow id of a rollout its scope started: `<scope>/<rollout id>`. Rollout ids are made
 * from the config version and the store position, so two fleets with the same configuration
 * (two test runs, staging and production) make the same ids; the scope, named after the fleet's
 * identity, keeps their workflows apart in a shared Temporal namespace.
 */
export const rolloutWorkflowId = (scope: string, rolloutId: string): string =>
  `${scope}/${rolloutId}`;
/** Patch id (Temporal `patched`) of the change that put the scope in child workflow ids. */
export const SCOPED_WORKFLOW_IDS = 'scoped-workflow-ids';
export const edgeCatchUpWorkflowId = (rolloutId: string, cluster: string): string =>
  `${rolloutId}/edge/${cluster}`;
