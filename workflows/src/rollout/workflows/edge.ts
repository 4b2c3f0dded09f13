import { continueAsNew } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities.js';
import { DEFAULT_TUNING } from '../definitions.js';
import { activitiesFor } from './options.js';

export interface EdgeCatchUpInput {
  readonly rolloutId: string;
  readonly cluster: string;
  readonly version: string;
  readonly previousVersion: string | null;
  readonly tuning?: Partial<typeof DEFAULT_TUNING>;
}

/**
 * A pending edge site: the version stays assigned while it is offline; once it reconnects its
 * nodes get it from the xDS layer. This confirms the outcome and records it; a NACK on reconnect
 * restores that site's previous version. Ends when the site's assignment moves on (rollback or a
 * newer rollout).
 */
export async function edgeCatchUpWorkflow(input: EdgeCatchUpInput): Promise<string> {
  const t = { ...DEFAULT_TUNING, ...input.tuning };
  const { quick, waiting, compensating } = activitiesFor(t);
  const { rolloutId, cluster, version } = input;
  const ev = (
    type: Parameters<RolloutActivities['recordEvent']>[0]['type'],
    data: Record<string, unknown>,
  ) =>
    quick.recordEvent({
      rolloutId,
      type,
      key: `edge/${cluster}/${type}`,
      atMs: Date.now(),
      data: { cluster, version, ...data },
      actor: undefined,
    });
  for (let i = 0; i < 100; i++) {
    const s = await waiting.awaitEdgeSite({
      cluster,
      version,
      pollMs: t.pollMs,
      maxWaitMs: t.edgeCatchUpWaitMs,
    });
    if (s.state === 'converged') {
      await ev('RolloutEdgeSiteCaughtUp', {});
      return 'caught-up';
    }
    if (s.state === 'rejected') {
      const now = Date.now();
      await compensating.restoreVersions({
        rolloutId,
        clusters: [{ name: cluster, kind: 'edge', previousVersion: input.previousVersion }],
        fromVersion: version,
        atMs: now,
        deadlineMs: now + 60_000,
        pollMs: t.pollMs,
      });
      await ev('RolloutEdgeSiteRejected', {
        node: s.node,
        message: s.message,
        restored: input.previousVersion,
      });
      return 'rejected';
    }
    if (s.state === 'superseded') {
      await ev('RolloutEdgeCatchUpEnded', { assigned: s.assigned });
      return 'superseded';
    }
  }
  return await continueAsNew<typeof edgeCatchUpWorkflow>(input);
}
