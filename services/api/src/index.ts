export * from './auth.js';
export * from './rbac.js';
export * from './errors.js';
export * from './server.js';
export { apiPackage, shoalClientConstructor, shoalService } from './grpc.js';
export * from './store-api.js';
export * from './nats-writer.js';
export { yamlDiff } from './diff.js';
export * from './token-registry.js';
