export * from './errors.js';
export * from './pki.js';
export * from './authority.js';
export * from './registry.js';
export * from './policy.js';
export { caSpiffeId } from './grpc.js';
export * from './server.js';
export * from './client.js';
