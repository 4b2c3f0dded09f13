/**
 * rolloutScopeWorkflow: one per scope (workflowId `rollout-scope/<scope>`), fed by signal-with-
 * start. It runs one rollout at a time, as a child workflow with id `<scope>/<rollout id>`.
 *
 * Supersede rule: when a newer version is submitted while a rollout runs, the running rollout is
 * stopped at once WITHOUT rollback (its clusters are about to get the newer version anyway), and
 * the newer rollout inherits the last good versions of the clusters it touched, so that a failure
 * of the newer rollout rolls back to the version before both. Versions submitted while another
 * submission is still queued are dropped in favour of the newest (recorded as superseded).
 */
import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import {
  SCOPED_WORKFLOW_IDS,
  rolloutWorkflowId,
  scopeQuery,
  submitSignal,
  supersedeSignal,
  type RolloutResult,
  type ScopeState,
  type Submission,
} from '../definitions.js';
import { activitiesFor } from './options.js';
import { DEFAULT_TUNING } from '../definitions.js';
import { rolloutWorkflow } from './rollout.js';

export interface ScopeInput {
  readonly scope: string;
  readonly carried?: { state: ScopeState; queue: Submission[] };
}

export async function rolloutScopeWorkflow(input: ScopeInput): Promise<void> {
  const { quick } = activitiesFor(DEFAULT_TUNING);
  const state: ScopeState = input.carried?.state ?? {
    scope: input.scope,
    queued: [],
    finished: [],
    carry: {},
  };
  const queue: Submission[] = [...(input.carried?.queue ?? [])];
  setHandler(scopeQuery, () => ({ ...state, queued: queue.map((q) => q.rolloutId) }));
  setHandler(submitSignal, (s) => {
    if (s.rolloutId === state.running || queue.some((q) => q.rolloutId === s.rolloutId)) return;
    queue.push(s);
  });

  for (let started = 0; ; started++) {
    // Idle and long-lived: continue as new so the history stays short.
    if (started >= 50 || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return await continueAsNew<typeof rolloutScopeWorkflow>({
        scope: input.scope,
        carried: { state, queue },
      });
    }
    await condition(() => queue.length > 0);
    const next = queue.pop()!;
    for (const dropped of queue.splice(0)) {
      state.finished.push({ rolloutId: dropped.rolloutId, status: 'superseded-before-start' });
      await quick.recordEvent({
        rolloutId: dropped.rolloutId,
        type: 'RolloutSuperseded',
        key: 'superseded-before-start',
        atMs: Date.now(),
        data: { by: next.rolloutId, targetVersion: dropped.targetVersion, started: false },
      });
    }
    state.running = next.rolloutId;
    const child = await startChild(rolloutWorkflow, {
      // Histories from before the patch started children under the bare rollout id.
      workflowId: patched(SCOPED_WORKFLOW_IDS)
        ? rolloutWorkflowId(input.scope, next.rolloutId)
        : next.rolloutId,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      args: [
        {
          rolloutId: next.rolloutId,
          policy: next.policy,
          targetVersion: next.targetVersion,
          lastGoodOverride: { ...state.carry },
          tuning: next.tuning,
        },
      ],
    });
    let outcome: { result?: RolloutResult; error?: unknown } | undefined;
    void child.result().then(
      (result) => (outcome = { result }),
      (error: unknown) => (outcome = { error }),
    );
    let supersededBy: string | undefined;
    while (!outcome) {
      await condition(() => outcome !== undefined || (queue.length > 0 && !supersededBy));
      if (!outcome && queue.length > 0 && !supersededBy) {
        supersededBy = queue[queue.length - 1]!.rolloutId;
        await child.signal(supersedeSignal, { by: supersededBy });
      }
    }
    state.running = undefined;
    const result = outcome.result;
    state.finished.push(
      result
        ? { rolloutId: next.rolloutId, status: result.status }
        : { rolloutId: next.rolloutId, status: 'failed', reason: String(outcome.error) },
    );
    if (result?.status === 'superseded') state.carry = { ...state.carry, ...result.lastGood };
    else if (result?.status === 'completed') state.carry = {};
    if (state.finished.length > 20) state.finished.splice(0, state.finished.length - 20);
  }
}
