export {
  PreparedAppend,
  PreparedRequest,
  StreamHeads,
  encodeEvent,
  type EncodedEvent,
} from './append.js';
export * from './canonical.js';
export * from './envelope.js';
export * from './errors.js';
export * from './event-store.js';
export * from './fleet-identity.js';
export * from './hash-chain.js';
export * from './migrate.js';
export * from './subscription.js';
export * as schema from './schema.js';
