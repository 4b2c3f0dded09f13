export { startNode, type NodeConfig, type RunningNode } from './node.js';
export { NODE_WORKER_V8_FLAGS, nodeWorkerArgs } from './bundle.js';
export * from './actors/index.js';
export { HboneClient, type TunnelRequest } from './hbone/client.js';
export { HboneListener, type InboundConnect } from './hbone/server.js';
export type { CertSet, IdentityCert } from './hbone/identity.js';
export { outboundAddress } from './ztunnel/addresses.js';
export type { StatsReport } from './stats.js';
export {
  startSimulatedNode,
  validateConfig,
  type SimulatedNode,
  type SimulatedNodeConfig,
} from './simulated.js';
