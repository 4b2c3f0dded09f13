export {
  compileFleet,
  IncrementalCompiler,
  type ClusterConfig,
  type CompileOptions,
  type DesiredState,
  type FleetConfig,
  type ResourceChange,
} from './compiler.js';
export type {
  CompileIssue,
  Condition,
  ResourceStatus,
  ParentStatus,
  ListenerStatus,
} from './status.js';
export { Names, HBONE_PORT, WAYPOINT_CLASS, WaypointLabels } from './names.js';
export { dumpFleet } from './dump.js';
