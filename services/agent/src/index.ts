export { Agent, type AgentOptions, type AgentStats } from './agent.js';
export { agentConfigSpec, loadAgentConfig, type AgentConfig } from './config.js';
export { createAgent, type AgentDeps } from './create.js';
export * from './errors.js';
export { EventTypes, CLUSTER_KIND } from './core/events.js';
export { CLUSTER_SCOPE, contentHash, type ObservedResource } from './core/resource.js';
export {
  PgReportedState,
  type ReportedResource,
  type ReportedStateSource,
} from './reported-state.js';
export { DEFAULT_KUBE_KINDS, type KubeKind } from './sources/kube-kinds.js';
export type { ManifestProblem, ManifestValidator } from './sources/manifest-validator.js';
export type { Source, SourceSink } from './sources/source.js';
