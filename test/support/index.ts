/**
 * Test kit shared by every integration test: real servers only. Each test file gets its own
 * database and, where it needs JetStream isolation or must restart NATS, its own nats-server.
 */
export * from './postgres.js';
export * from './nats.js';
export * from './env.js';
export * from './pki.js';
