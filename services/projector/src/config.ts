import { loadConfig, setting, type ConfigOf, type ConfigSource } from '@shoal/common';

export const projectorSettings = {
  databaseUrl: setting.url('PostgreSQL event store', ['postgres:', 'postgresql:'], {
    env: 'DATABASE_URL',
    flag: 'database-url',
    default: 'postgres://postgres@127.0.0.1:5432/shoal',
  }),
  adminPort: setting.port('admin port (/healthz /readyz /metrics); 0 = any free port', {
    env: 'PROJECTOR_ADMIN_PORT',
    flag: 'admin-port',
    default: 9402,
  }),
  batchSize: setting.int('most events folded per transaction', {
    env: 'PROJECTOR_BATCH_SIZE',
    flag: 'batch-size',
    min: 1,
    default: 5_000,
  }),
  snapshotEvery: setting.int('take a state snapshot (for stateAt) every this many events', {
    env: 'PROJECTOR_SNAPSHOT_EVERY',
    flag: 'snapshot-every',
    min: 100,
    default: 10_000,
  }),
  pollInterval: setting.duration('safety poll when no NOTIFY arrives', {
    env: 'PROJECTOR_POLL_INTERVAL',
    flag: 'poll-interval',
    default: 5_000,
  }),
  rebuild: setting.bool('rebuild the projection from position 0 at start', {
    env: 'PROJECTOR_REBUILD',
    flag: 'rebuild',
    default: false,
  }),
};

export type ProjectorConfig = ConfigOf<typeof projectorSettings>;

export function loadProjectorConfig(source?: ConfigSource): ProjectorConfig {
  return loadConfig('shoal-projector', projectorSettings, source);
}

export function projectorConfig(overrides: Partial<ProjectorConfig> = {}): ProjectorConfig {
  return {
    ...loadConfig('shoal-projector', projectorSettings, { argv: [], env: {} }),
    ...overrides,
  };
}
