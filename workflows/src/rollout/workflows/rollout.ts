/**
 * rolloutWorkflow: one per rollout, workflowId = `<scope>/<rollout id>` (or the bare rollout id
 * when started directly). Waves run in order; each batch is
 * assigned, then waits until every connected node ACKs; each wave bakes, then passes the health
 * gate. Any NACK, missed deadline, failed gate or abort rolls every touched cluster back, newest
 * first (compensation.ts). Long fleets continue as new at a batch boundary, carrying plan,
 * progress, cursor and the compensation stack (run.ts).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import {
  edgeCatchUpWorkflowId,
  type RolloutInput,
  type RolloutProgress,
  type RolloutResult,
  type StopRequest,
} from '../definitions.js';
import { FailureTypes, type RejectionDetails } from '../failures.js';
import type { PlannedWave, RolloutPlan } from '../types.js';
import { rollBack, supersede } from './compensation.js';
import { edgeCatchUpWorkflow } from './edge.js';
import { RolloutRun } from './run.js';

/** A gate failed: roll back, with this reason. */
class GateFailure extends Error {}

export async function rolloutWorkflow(input: RolloutInput): Promise<RolloutResult> {
  const run = new RolloutRun(input);
  run.registerHandlers();
  const { progress, cursor, touched, t, rolloutId, targetVersion } = run;
  const { quick, waiting } = run.acts;

  /** Run `fn` unless or until a stop arrives; then cancel it and return undefined. */
  async function interruptible<T>(fn: () => Promise<T>): Promise<T | undefined> {
    if (run.stop) return undefined;
    const work = new CancellationScope();
    const guard = new CancellationScope();
    const stopped = guard
      .run(() => condition(() => run.stop !== undefined))
      .then(
        () => true,
        () => false,
      );
    try {
      const r = await Promise.race([work.run(fn), stopped.then(() => undefined)]);
      if (run.stop) {
        work.cancel();
        return undefined;
      }
      return r;
    } catch (err) {
      if (run.stop && isCancellation(err)) return undefined;
      throw err;
    } finally {
      guard.cancel();
    }
  }

  async function maybeContinueAsNew(): Promise<void> {
    const info = workflowInfo();
    if (info.historyLength < t.continueAsNewAfterEvents && !info.continueAsNewSuggested) return;
    await condition(allHandlersFinished);
    progress.runs++;
    await continueAsNew<typeof rolloutWorkflow>({ ...input, carried: run.carried() });
  }

  function onStop(s: StopRequest): Promise<RolloutResult> {
    return s.kind === 'supersede'
      ? supersede(run, s.by)
      : rollBack(run, `aborted by ${s.by}: ${s.reason}`, 'aborted');
  }

  async function runBatch(plan: RolloutPlan, wave: PlannedWave): Promise<void> {
    const batch = wave.batches[cursor.batch]!;
    const names = batch.map((x) => x.name);
    // On the compensation stack before the assignment: a half-done batch is rolled back too.
    touched.push({
      wave: wave.index,
      clusters: batch.map(({ name, kind, previousVersion }) => ({ name, kind, previousVersion })),
    });
    run.setClusters(names, 'assigning');
    await quick.assignVersions({
      rolloutId,
      purpose: 'rollout',
      atMs: Date.now(),
      clusters: batch.map((x) => ({
        name: x.name,
        version: targetVersion,
        previousVersion: x.previousVersion,
      })),
    });
    run.setClusters(names, 'converging');
    const now = Date.now();
    let result: { converged: string[]; offline: string[] } | undefined;
    try {
      result = await interruptible(() =>
        waiting.waitForConvergence({
          clusters: batch.map((x) => ({ name: x.name, kind: x.kind })),
          version: targetVersion,
          deadlineMs: now + plan.convergenceDeadlineMs,
          offlineUntilMs: now + plan.offlineEdge.waitMs,
          pollMs: t.pollMs,
        }),
      );
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === FailureTypes.configRejected) {
        const d = cause.details?.[0] as RejectionDetails | undefined;
        if (d) run.setClusters([d.cluster], 'converging', `node ${d.node} NACKed: ${d.message}`);
        throw new GateFailure(cause.message);
      }
      if (cause instanceof ApplicationFailure && cause.type === FailureTypes.convergenceDeadline) {
        throw new GateFailure(cause.message);
      }
      throw err;
    }
    if (!result) return;
    run.setClusters(result.converged, 'converged');
    for (const site of result.offline) {
      const why = `edge site ${site} had no connected node for ${plan.offlineEdge.waitMs} ms`;
      if (plan.offlineEdge.action === 'fail') throw new GateFailure(`${why} (policy: fail)`);
      run.setClusters([site], 'edge-pending', `${why}: stays assigned, confirmed on reconnect`);
      progress.pendingEdgeSites.push(site);
      await run.record('RolloutEdgeSitePending', `edge-pending/${site}`, {
        cluster: site,
        version: targetVersion,
        reason: why,
      });
      const previousVersion = batch.find((x) => x.name === site)!.previousVersion;
      await startChild(edgeCatchUpWorkflow, {
        // Named after this workflow's id, which carries the scope. Deterministic for histories
        // from before scoped ids too: their workflow id was the rollout id.
        workflowId: edgeCatchUpWorkflowId(workflowInfo().workflowId, site),
        parentClosePolicy: ParentClosePolicy.ABANDON,
        args: [
          {
            rolloutId,
            cluster: site,
            version: targetVersion,
            previousVersion,
            tuning: input.tuning,
          },
        ],
      });
    }
  }

  /** Hold while paused or while the wave waits for its approval (or until a stop). */
  async function waitForGate(
    wave: PlannedWave,
    wp: RolloutProgress['waves'][number],
  ): Promise<void> {
    const approved = () => !wave.requiresApproval || run.approvals.has(wave.name);
    for (;;) {
      if (run.stop || (!progress.paused && approved())) return;
      const paused = progress.paused;
      const ok = approved();
      progress.state = paused ? 'paused' : 'awaiting-approval';
      if (wave.requiresApproval) wp.state = ok ? 'pending' : 'awaiting-approval';
      // Wake on any change of the reason to hold, so that progress always says the current one.
      await condition(
        () => run.stop !== undefined || progress.paused !== paused || approved() !== ok,
      );
    }
  }

  async function evaluateGate(plan: RolloutPlan, wave: PlannedWave): Promise<string[]> {
    const verdict = await quick.evaluateHealth({
      clusters: wave.batches.flat().filter((x) => !progress.pendingEdgeSites.includes(x.name)),
      version: targetVersion,
      thresholds: plan.health,
    });
    if (!verdict.ok) {
      for (const f of verdict.failures) {
        run.setClusters([f.cluster], 'converged', `${f.metric} ${f.observed} above ${f.limit}`);
      }
      const list = verdict.failures
        .slice(0, 5)
        .map((f) => `${f.cluster} ${f.metric} ${round(f.observed)} > ${round(f.limit)}`)
        .join('; ');
      throw new GateFailure(`health gate of wave "${wave.name}" failed: ${list}`);
    }
    return [...verdict.notJudged];
  }

  let plan = run.plan;
  if (!plan) {
    try {
      plan = await quick.planRollout({
        rolloutId,
        policy: input.policy,
        targetVersion,
        lastGoodOverride: input.lastGoodOverride,
      });
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      await run.recordSafely('RolloutPlanRejected', 'plan', {
        reason: cause instanceof Error ? cause.message : String(cause),
      });
      throw cause;
    }
    run.setPlan(plan);
    await run.record('RolloutStarted', 'start', {
      policy: plan.policyName,
      targetVersion,
      waves: plan.waves.map((w) => ({
        name: w.name,
        clusters: w.batches.flat().map((x) => x.name),
      })),
      alreadyCurrent: plan.alreadyCurrent,
    });
  }

  try {
    for (
      ;
      cursor.wave < plan.waves.length;
      cursor.wave++, cursor.batch = 0, cursor.phase = 'gate'
    ) {
      const wave = plan.waves[cursor.wave]!;
      const wp = progress.waves[cursor.wave]!;
      progress.currentWave = cursor.wave;
      if (cursor.phase === 'gate') {
        await waitForGate(wave, wp);
        if (run.stop) return await onStop(run.stop);
        progress.state = wp.state = 'running';
        await run.record('RolloutWaveStarted', `wave/${wave.index}`, {
          wave: wave.name,
          index: wave.index,
          clusters: wp.clusters,
        });
        cursor.phase = 'batches';
      }
      if (cursor.phase === 'batches') {
        for (; cursor.batch < wave.batches.length; cursor.batch++) {
          await maybeContinueAsNew();
          if (progress.paused) await waitForGate({ ...wave, requiresApproval: false }, wp);
          if (run.stop) return await onStop(run.stop);
          progress.state = 'running';
          await runBatch(plan, wave);
          if (run.stop) return await onStop(run.stop);
        }
        cursor.phase = 'bake';
      }
      if (cursor.phase === 'bake') {
        if (wave.bakeTimeMs > 0) {
          progress.state = wp.state = 'baking';
          await condition(() => run.stop !== undefined, wave.bakeTimeMs);
          if (run.stop) return await onStop(run.stop);
        }
        cursor.phase = 'health';
      }
      progress.state = wp.state = 'checking-health';
      const notJudged = await evaluateGate(plan, wave);
      wp.state = 'completed';
      await run.record('RolloutWaveCompleted', `wave-done/${wave.index}`, {
        wave: wave.name,
        index: wave.index,
        notJudged,
      });
    }
    progress.state = 'completed';
    await run.record('RolloutCompleted', 'completed', {
      targetVersion,
      pendingEdgeSites: progress.pendingEdgeSites,
    });
    await condition(allHandlersFinished);
    return {
      rolloutId,
      status: 'completed',
      pendingEdgeSites: progress.pendingEdgeSites,
      lastGood: {},
    };
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const wp = progress.waves[cursor.wave];
    if (wp) wp.state = 'failed';
    if (err instanceof GateFailure) return await rollBack(run, err.message, 'rolled-back');
    if (isCancellation(err)) {
      return await rollBack(run, 'the rollout workflow was cancelled', 'aborted');
    }
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    const why = cause instanceof Error ? cause.message : String(cause);
    return await rollBack(run, `rollout step failed: ${why}`, 'rolled-back');
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
