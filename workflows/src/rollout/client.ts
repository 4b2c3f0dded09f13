/**
 * Starting and steering rollouts from outside (the API service, the CLI, tests).
 */
import { WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { TaskQueues } from '@shoal/common';
import {
  abortUpdate,
  approveUpdate,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
  rolloutWorkflowId,
  scopeQuery,
  scopeWorkflowId,
  submitSignal,
  type RolloutInput,
  type RolloutProgress,
  type ScopeState,
  type Submission,
} from './definitions.js';
import type { rolloutScopeWorkflow, rolloutWorkflow } from './workflows.js';

export type RolloutHandle = WorkflowHandle<typeof rolloutWorkflow>;

/** Start one rollout directly (no supersede handling); workflowId = rollout id. */
export function startRollout(
  client: Client,
  input: RolloutInput,
  taskQueue: string = TaskQueues.rollouts,
): Promise<RolloutHandle> {
  return client.workflow.start<typeof rolloutWorkflow>('rolloutWorkflow', {
    taskQueue,
    workflowId: input.rolloutId,
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    args: [input],
  });
}

/**
 * Submit a new version for a scope (what a newly compiled version does): starts the scope's
 * workflow if needed; a rollout still running in the scope is superseded.
 */
export async function submitVersion(
  client: Client,
  scope: string,
  submission: Submission,
  taskQueue: string = TaskQueues.rollouts,
): Promise<WorkflowHandle<typeof rolloutScopeWorkflow>> {
  return client.workflow.signalWithStart<typeof rolloutScopeWorkflow, [Submission]>(
    'rolloutScopeWorkflow',
    {
      taskQueue,
      workflowId: scopeWorkflowId(scope),
      args: [{ scope }],
      signal: submitSignal,
      signalArgs: [submission],
    },
  );
}

/**
 * A rollout's workflow: pass the scope for rollouts submitted to a scope (`submitVersion`), whose
 * workflow id is `<scope>/<rollout id>`; leave it out for one started with `startRollout`.
 */
export function rolloutHandle(client: Client, rolloutId: string, scope?: string): RolloutHandle {
  return client.workflow.getHandle(scope ? rolloutWorkflowId(scope, rolloutId) : rolloutId);
}

export const rolloutCommands = {
  pause: (h: RolloutHandle, by: string, reason?: string): Promise<RolloutProgress> =>
    h.executeUpdate(pauseUpdate, { args: [{ by, reason }] }),
  resume: (h: RolloutHandle, by: string): Promise<RolloutProgress> =>
    h.executeUpdate(resumeUpdate, { args: [{ by }] }),
  approve: (h: RolloutHandle, wave: string, by: string): Promise<RolloutProgress> =>
    h.executeUpdate(approveUpdate, { args: [{ by, wave }] }),
  abort: (h: RolloutHandle, by: string, reason: string): Promise<RolloutProgress> =>
    h.executeUpdate(abortUpdate, { args: [{ by, reason }] }),
  progress: (h: RolloutHandle): Promise<RolloutProgress> => h.query(progressQuery),
  scope: (client: Client, scope: string): Promise<ScopeState> =>
    client.workflow.getHandle(scopeWorkflowId(scope)).query(scopeQuery),
};
