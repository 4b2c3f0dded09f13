export * from './errors.js';
export * from './config.js';
export * from './logger.js';
export * from './lifecycle.js';
export * from './admin.js';
export * from './names.js';
export * from './net.js';
export * from './service.js';
