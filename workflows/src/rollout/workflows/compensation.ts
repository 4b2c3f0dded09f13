/**
 * The saga's compensation: every touched cluster gets its last good version back, newest batch
 * first and newest cluster first. A cluster that cannot be confirmed is retried for a few rounds;
 * every failure is logged, counted in the progress and recorded; if any remains, the workflow
 * fails naming them. Nothing is swallowed.
 */
import { ApplicationFailure, CancellationScope, log } from '@temporalio/workflow';
import type { RolloutResult } from '../definitions.js';
import { FailureTypes } from '../failures.js';
import type { RolloutRun } from './run.js';

export async function rollBack(
  run: RolloutRun,
  reason: string,
  final: 'rolled-back' | 'aborted',
): Promise<RolloutResult> {
  const { progress, rolloutId, t } = run;
  progress.state = 'rolling-back';
  progress.reasons.push(reason);
  const failed: { cluster: string; reason: string }[] = [];
  // Runs to the end even when the workflow itself is being cancelled.
  await CancellationScope.nonCancellable(async () => {
    await run.recordSafely(
      final === 'aborted' ? 'RolloutAbortRequested' : 'RolloutGateFailed',
      'stop',
      { reason, wave: progress.waves[run.cursor.wave]?.name },
    );
    for (const batch of [...run.touched].reverse()) {
      let pending = [...batch.clusters].reverse();
      let last: { cluster: string; reason: string }[] = [];
      for (let round = 1; round <= t.compensationRounds && pending.length > 0; round++) {
        const now = Date.now();
        try {
          const r = await run.acts.compensating.restoreVersions({
            rolloutId,
            clusters: pending,
            fromVersion: run.targetVersion,
            atMs: now,
            deadlineMs: now + run.plan!.convergenceDeadlineMs,
            pollMs: t.pollMs,
          });
          last = r.unconfirmed;
        } catch (err) {
          last = pending.map((x) => ({ cluster: x.name, reason: String(err) }));
        }
        if (last.length > 0) {
          progress.compensationFailures += last.length;
          log.error('compensation incomplete, retrying', { rolloutId, round, unconfirmed: last });
        }
        const bad = new Set(last.map((x) => x.cluster));
        run.setClusters(
          pending.filter((x) => !bad.has(x.name)).map((x) => x.name),
          'restored',
        );
        pending = pending.filter((x) => bad.has(x.name));
      }
      for (const f of last) run.setClusters([f.cluster], 'restore-failed', f.reason);
      failed.push(...last);
    }
    if (failed.length > 0) {
      await run.recordSafely('RolloutCompensationFailed', 'compensation', { reason, failed });
    }
    const restored = run.touched.reduce((n, b) => n + b.clusters.length, 0) - failed.length;
    await run.recordSafely('RolloutRolledBack', 'rolled-back', {
      reason,
      restored,
      failed: failed.length,
    });
  });
  if (failed.length > 0) {
    progress.state = 'compensation-failed';
    const list = failed
      .slice(0, 5)
      .map((f) => `${f.cluster} (${f.reason})`)
      .join('; ');
    throw ApplicationFailure.create({
      type: FailureTypes.compensationIncomplete,
      message: `rollout ${rolloutId} rolled back, but ${failed.length} cluster(s) are not confirmed on their last good version: ${list}; check those clusters and reassign their version`,
      nonRetryable: true,
      details: [failed],
    });
  }
  progress.state = final;
  return {
    rolloutId,
    status: final,
    reason,
    pendingEdgeSites: progress.pendingEdgeSites,
    lastGood: {},
  };
}

/** Superseded: no rollback; hand the last good versions of touched clusters to the successor. */
export async function supersede(run: RolloutRun, by: string): Promise<RolloutResult> {
  const reason = `superseded by rollout ${by}`;
  run.progress.state = 'superseded';
  run.progress.reasons.push(reason);
  const lastGood: Record<string, string> = {};
  for (const b of run.touched) {
    for (const x of b.clusters)
      if (x.previousVersion !== null) lastGood[x.name] = x.previousVersion;
  }
  await run.recordSafely('RolloutSuperseded', 'superseded', {
    by,
    touched: Object.keys(lastGood).length,
  });
  return {
    rolloutId: run.rolloutId,
    status: 'superseded',
    reason,
    pendingEdgeSites: run.progress.pendingEdgeSites,
    lastGood,
  };
}
