/** @shoal/workflows: Temporal workflows of Shoal. */
export * from './errors.js';
export * from './rollout/types.js';
export * from './rollout/definitions.js';
export * from './rollout/events.js';
export * from './rollout/ports.js';
export * from './rollout/failures.js';
export { planRollout, plannedClusters, matches, CANARY_WAVE } from './rollout/plan.js';
export {
  createActivities,
  type RolloutActivities,
  type HealthVerdict,
} from './rollout/activities.js';
export * from './rollout/adapters/nats.js';
export { SimulatedFleet, type SimulatedClusterSpec } from './rollout/simulated.js';
export {
  createRolloutWorker,
  bundleRolloutWorkflows,
  workflowsPath,
  type RolloutWorkerOptions,
} from './rollout/worker.js';
export * from './rollout/client.js';
export {
  startHarness,
  ensureEventsStream,
  type Harness,
  type HarnessOptions,
} from './rollout/harness.js';
