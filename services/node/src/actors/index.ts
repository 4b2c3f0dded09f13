export * from './actor.js';
export * from './supervisor.js';
