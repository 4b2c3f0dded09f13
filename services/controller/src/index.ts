export {
  createController,
  type Controller,
  type ControllerOptions,
  type CompiledVersion,
} from './controller.js';
export { placeResources, fleetVersion, GLOBAL, type DesiredRow } from './placement.js';
export { toWorkflowPolicy, DEFAULT_POLICY } from './policy.js';
export { StatsHealth, p99 } from './health.js';
export { XdsAssigner, XdsConvergence, ControlPlaneEventPublisher } from './adapters.js';
export { nodeChanges, previewFleet, type NodeChange, type PlannedChange } from './preview.js';
