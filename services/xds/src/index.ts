export { createXdsServer, type XdsServer, type XdsServerDeps } from './server.js';
export { XDS_CONFIG, loadXdsConfig, type XdsConfig } from './config.js';
export { NatsConfigStore, publishConfigVersion, assignVersion } from './store/nats-config-store.js';
export type { Assignment, ConfigStore, Published, VersionBundles } from './store/config-store.js';
export { UNASSIGNED_VERSION } from './store/config-store.js';
export { queryConvergence } from './convergence-nats.js';
export type { Convergence, NodeConvergence, NodeProgress } from './core/convergence.js';
export type { NodeEvent } from './events.js';
export {
  InconsistentSnapshotError,
  ConfigVersionConflictError,
  ConfigVersionNotFoundError,
  NodeIdentityError,
} from './errors.js';
export { consistencyIssues, snapshotOf, type Snapshot } from './core/snapshot.js';
