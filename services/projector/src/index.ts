export { createProjector, type Projector, type ProjectorDeps } from './projector.js';
export {
  projectorConfig,
  projectorSettings,
  loadProjectorConfig,
  type ProjectorConfig,
} from './config.js';
export {
  evolve,
  foldInto,
  resourceKey,
  type DesiredState,
  type FoldEvent,
  type ResourceRecord,
} from './evolve.js';
export { ResourceProjection } from './projection.js';
export { stateAt, type StateAt, type StateAtTarget } from './state-at.js';
