/**
 * Rollout events in Shoal's envelope (DESIGN.md §3). Every event of a rollout goes to stream
 * `rollout/<id>` with the rollout id as correlation id. Ids are UUIDv7-shaped but derived from
 * (rollout id, step key), so a retried activity publishes the same id and JetStream / the store
 * drop the duplicate.
 */
import { createHash } from 'node:crypto';

export const SCHEMA_VERSION = 1;

export type RolloutEventType =
  | 'RolloutStarted'
  | 'RolloutWaveStarted'
  | 'ConfigVersionAssigned'
  | 'RolloutWaveCompleted'
  | 'RolloutEdgeSitePending'
  | 'RolloutEdgeSiteCaughtUp'
  | 'RolloutEdgeSiteRejected'
  | 'RolloutEdgeCatchUpEnded'
  | 'RolloutPaused'
  | 'RolloutResumed'
  | 'RolloutWaveApproved'
  | 'RolloutAbortRequested'
  | 'RolloutGateFailed'
  | 'RolloutCompensationFailed'
  | 'RolloutRolledBack'
  | 'RolloutSuperseded'
  | 'RolloutCompleted'
  | 'RolloutPlanRejected';

export interface ShoalEvent {
  readonly id: string;
  readonly stream: string;
  readonly type: RolloutEventType;
  readonly data: Record<string, unknown>;
  readonly metadata: {
    readonly actor: string;
    readonly source: string;
    readonly cluster?: string;
    readonly correlationId: string;
    readonly causationId?: string;
    readonly observedAt: string;
  };
  readonly schemaVersion: number;
}

export const rolloutStream = (rolloutId: string): string => `rollout/${rolloutId}`;

/** UUIDv7 layout: 48-bit ms timestamp, version 7, variant 10; the rest from sha256(seed). */
export function deterministicEventId(atMs: number, seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  const b = Buffer.alloc(16);
  b.writeUIntBE(Math.max(0, Math.floor(atMs)) % 2 ** 48, 0, 6);
  h.copy(b, 6, 0, 10);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export interface RolloutEventInput {
  readonly rolloutId: string;
  readonly type: RolloutEventType;
  /** Unique per step within the rollout: the same key is the same event. */
  readonly key: string;
  /** Workflow time of the step (stable across activity retries). */
  readonly atMs: number;
  readonly data: Record<string, unknown>;
  readonly cluster?: string;
  readonly actor?: string;
}

export function rolloutEvent(e: RolloutEventInput): ShoalEvent {
  return {
    id: deterministicEventId(e.atMs, `${e.rolloutId}\u0000${e.type}\u0000${e.key}`),
    stream: rolloutStream(e.rolloutId),
    type: e.type,
    data: { rolloutId: e.rolloutId, ...e.data },
    metadata: {
      actor: e.actor ?? 'shoal-rollout-worker',
      source: 'workflows/rollout',
      ...(e.cluster === undefined ? {} : { cluster: e.cluster }),
      correlationId: e.rolloutId,
      observedAt: new Date(e.atMs).toISOString(),
    },
    schemaVersion: SCHEMA_VERSION,
  };
}
