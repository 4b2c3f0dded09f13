/**
 * Workflow entry point of the rollout worker (its `workflowsPath`). The workflows themselves live
 * in ./workflows/: the same deterministic-sandbox lint rules apply there.
 */
export { rolloutWorkflow } from './workflows/rollout.js';
export { rolloutScopeWorkflow } from './workflows/scope.js';
export { edgeCatchUpWorkflow } from './workflows/edge.js';
