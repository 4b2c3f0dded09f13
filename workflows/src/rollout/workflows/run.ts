/**
 * The state of one rollout run and the handlers that read or change it (pause, resume, approve,
 * abort, supersede, progress). Everything here is carried across continue-as-new.
 */
import { log, setHandler } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities.js';
import {
  DEFAULT_TUNING,
  abortUpdate,
  approveUpdate,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
  supersedeSignal,
  type CarriedState,
  type ClusterProgress,
  type RolloutInput,
  type RolloutProgress,
  type RolloutState,
  type RolloutTuning,
  type StopRequest,
  type TouchedBatch,
} from '../definitions.js';
import type { RolloutPlan } from '../types.js';
import { activitiesFor } from './options.js';

type EventType = Parameters<RolloutActivities['recordEvent']>[0]['type'];

const FINAL: readonly RolloutState[] = [
  'completed',
  'rolled-back',
  'aborted',
  'superseded',
  'compensation-failed',
];

export class RolloutRun {
  readonly rolloutId: string;
  readonly targetVersion: string;
  readonly t: RolloutTuning;
  readonly acts: ReturnType<typeof activitiesFor>;
  plan: RolloutPlan | undefined;
  readonly progress: RolloutProgress;
  readonly cursor: CarriedState['cursor'];
  /** The compensation stack: batches in the order they were touched. */
  readonly touched: TouchedBatch[];
  stop: StopRequest | undefined;
  readonly approvals: Set<string>;
  private readonly byName: Map<string, ClusterProgress>;

  constructor(readonly input: RolloutInput) {
    const c = input.carried;
    this.rolloutId = input.rolloutId;
    this.targetVersion = input.targetVersion;
    this.t = { ...DEFAULT_TUNING, ...input.tuning };
    this.acts = activitiesFor(this.t);
    this.plan = c?.plan;
    this.progress = c?.progress ?? {
      rolloutId: input.rolloutId,
      targetVersion: input.targetVersion,
      state: 'planning',
      paused: false,
      currentWave: 0,
      waves: [],
      clusters: [],
      reasons: [],
      compensationFailures: 0,
      pendingEdgeSites: [],
      runs: 0,
    };
    this.cursor = { ...(c?.cursor ?? { wave: 0, batch: 0, phase: 'gate' }) };
    this.touched = [...(c?.touched ?? [])];
    this.stop = c?.stop;
    this.approvals = new Set(this.progress.waves.filter((w) => w.approvedBy).map((w) => w.name));
    this.byName = new Map(this.progress.clusters.map((x) => [x.name, x]));
  }

  carried(): CarriedState {
    return {
      plan: this.plan!,
      progress: this.progress,
      cursor: this.cursor,
      touched: this.touched,
      stop: this.stop,
    };
  }

  setPlan(plan: RolloutPlan): void {
    this.plan = plan;
    this.progress.waves = plan.waves.map((w) => ({
      index: w.index,
      name: w.name,
      requiresApproval: w.requiresApproval,
      clusters: w.batches.reduce((n, b) => n + b.length, 0),
      batches: w.batches.length,
      state: 'pending',
    }));
    this.progress.clusters = plan.waves.flatMap((w) =>
      w.batches.flat().map((x) => ({ name: x.name, wave: w.index, state: 'planned' as const })),
    );
    for (const x of this.progress.clusters) this.byName.set(x.name, x);
  }

  record(type: EventType, key: string, data: Record<string, unknown>, actor?: string) {
    return this.acts.quick.recordEvent({
      rolloutId: this.rolloutId,
      type,
      key,
      atMs: Date.now(),
      data,
      actor,
    });
  }

  /** In the rollback path an event that cannot be written must not stop the compensation. */
  async recordSafely(type: EventType, key: string, data: Record<string, unknown>): Promise<void> {
    try {
      await this.record(type, key, data);
    } catch (err) {
      log.error('could not record rollout event', {
        rolloutId: this.rolloutId,
        type,
        err: String(err),
      });
    }
  }

  setClusters(names: readonly string[], state: ClusterProgress['state'], reason?: string): void {
    for (const n of names) {
      const p = this.byName.get(n);
      if (p) {
        p.state = state;
        if (reason !== undefined) p.reason = reason;
      }
    }
  }

  isFinal(): boolean {
    return FINAL.includes(this.progress.state);
  }

  private assertActive(what: string): void {
    if (this.isFinal() || this.progress.state === 'rolling-back') {
      throw new Error(`cannot ${what} rollout ${this.rolloutId}: it is ${this.progress.state}`);
    }
  }

  /** Register before the first await, so that no early update is lost. */
  registerHandlers(): void {
    const p = this.progress;
    setHandler(progressQuery, () => p);
    setHandler(
      pauseUpdate,
      async ({ by, reason }) => {
        p.paused = true;
        p.reasons.push(`paused by ${by}${reason ? `: ${reason}` : ''}`);
        await this.record('RolloutPaused', `pause/${p.reasons.length}`, { by, reason }, by);
        return p;
      },
      { validator: (_cmd) => this.assertActive('pause') },
    );
    setHandler(
      resumeUpdate,
      async ({ by }) => {
        p.paused = false;
        await this.record('RolloutResumed', `resume/${p.reasons.length}`, { by }, by);
        return p;
      },
      {
        validator: (_cmd) => {
          this.assertActive('resume');
          if (!p.paused) throw new Error('the rollout is not paused');
        },
      },
    );
    setHandler(
      approveUpdate,
      async ({ by, wave }) => {
        this.approvals.add(wave);
        const w = p.waves.find((x) => x.name === wave);
        if (w) w.approvedBy = by;
        await this.record('RolloutWaveApproved', `approve/${wave}`, { wave, by }, by);
        return p;
      },
      {
        validator: ({ wave }) => {
          this.assertActive('approve');
          const w = p.waves.find((x) => x.name === wave);
          if (!w) {
            const names = p.waves.map((x) => x.name).join(', ') || '(not planned yet)';
            throw new Error(`no wave "${wave}" in rollout ${this.rolloutId}; waves: ${names}`);
          }
          if (!w.requiresApproval) throw new Error(`wave "${wave}" does not need approval`);
          if (this.approvals.has(wave)) throw new Error(`wave "${wave}" is already approved`);
        },
      },
    );
    setHandler(
      abortUpdate,
      ({ by, reason }) => {
        this.stop ??= { kind: 'abort', by, reason: reason ?? 'no reason given' };
        return Promise.resolve(p);
      },
      { validator: (_cmd) => this.assertActive('abort') },
    );
    setHandler(supersedeSignal, ({ by }) => {
      if (!this.isFinal()) this.stop ??= { kind: 'supersede', by };
    });
  }
}
