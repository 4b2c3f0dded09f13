/**
 * The rollout worker: the rollout workflows plus activities bound to their dependencies.
 * main.ts wires it to NATS; tests wire it to SimulatedFleet (which answers over NATS too).
 */
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type NativeConnection,
  type WorkflowBundle,
} from '@temporalio/worker';
import type { Logger } from '@shoal/common';
import { TaskQueues } from '@shoal/common';
import { createActivities } from './activities.js';
import type { RolloutDeps } from './ports.js';

export const workflowsPath = fileURLToPath(new URL('./workflows.ts', import.meta.url));

/** Bundle the workflow code once (a few seconds); workers started with the bundle start fast. */
export function bundleRolloutWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
}

export interface RolloutWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue?: string;
  readonly deps: RolloutDeps;
  readonly logger?: Logger;
  /** A prebuilt bundle (tests, benchmarks); otherwise the workflows are bundled now. */
  readonly bundle?: WorkflowBundle | { codePath: string };
  /**
   * How long the server keeps a workflow task on this worker's sticky queue before handing it to
   * any worker; short values make a restart after a crash resume faster.
   */
  readonly stickyQueueScheduleToStartTimeoutMs?: number;
  readonly maxConcurrentActivityTaskExecutions?: number;
}

export function createRolloutWorker(o: RolloutWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? TaskQueues.rollouts,
    ...(o.bundle ? { workflowBundle: o.bundle } : { workflowsPath }),
    activities: createActivities(o.deps, o.logger),
    stickyQueueScheduleToStartTimeout: o.stickyQueueScheduleToStartTimeoutMs ?? 5_000,
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivityTaskExecutions ?? 200,
  });
}
