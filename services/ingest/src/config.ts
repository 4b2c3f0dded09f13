import { Consumers, loadConfig, setting, type ConfigOf, type ConfigSource } from '@shoal/common';

export const ingestSettings = {
  natsUrl: setting.url('NATS server with JetStream', ['nats:', 'tls:'], {
    env: 'NATS_URL',
    flag: 'nats-url',
    default: 'nats://127.0.0.1:4222',
  }),
  databaseUrl: setting.url('PostgreSQL event store', ['postgres:', 'postgresql:'], {
    env: 'DATABASE_URL',
    flag: 'database-url',
    default: 'postgres://postgres@127.0.0.1:5432/shoal',
  }),
  adminPort: setting.port('admin port (/healthz /readyz /metrics); 0 = any free port', {
    env: 'INGEST_ADMIN_PORT',
    flag: 'admin-port',
    default: 9401,
  }),
  consumer: setting.string('durable JetStream consumer name', {
    env: 'INGEST_CONSUMER',
    flag: 'consumer',
    default: Consumers.ingest,
  }),
  batchSize: setting.int('most events appended in one transaction', {
    env: 'INGEST_BATCH_SIZE',
    flag: 'batch-size',
    min: 1,
    max: 10_000,
    default: 1000,
  }),
  maxEventBytes: setting.int('largest accepted event, in bytes; larger ones are dead-lettered', {
    env: 'INGEST_MAX_EVENT_BYTES',
    flag: 'max-event-bytes',
    min: 256,
    default: 256 * 1024,
  }),
  ackWait: setting.duration(
    'JetStream ack wait: how long a delivered, unacknowledged event waits before redelivery',
    {
      env: 'INGEST_ACK_WAIT',
      flag: 'ack-wait',
      default: 30_000,
    },
  ),
  pullExpires: setting.duration('how long one pull request waits on the server', {
    env: 'INGEST_PULL_EXPIRES',
    flag: 'pull-expires',
    default: 5_000,
  }),
  maxAckPending: setting.int('most delivered, unacknowledged events', {
    env: 'INGEST_MAX_ACK_PENDING',
    flag: 'max-ack-pending',
    min: 1,
    default: 20_000,
  }),
  replicas: setting.int('stream replicas (3 for a clustered NATS)', {
    env: 'INGEST_STREAM_REPLICAS',
    flag: 'replicas',
    min: 1,
    max: 5,
    default: 1,
  }),
  duplicateWindow: setting.duration('JetStream de-duplication window on Nats-Msg-Id', {
    env: 'INGEST_DUPLICATE_WINDOW',
    flag: 'duplicate-window',
    default: 120_000,
  }),
  maxAge: setting.duration(
    'how long JetStream keeps events after ingest (the store keeps them forever)',
    {
      env: 'INGEST_STREAM_MAX_AGE',
      flag: 'stream-max-age',
      default: 7 * 24 * 3_600_000,
    },
  ),
  leaderRetry: setting.duration('how often a standby ingest tries to take the leader lock', {
    env: 'INGEST_LEADER_RETRY',
    flag: 'leader-retry',
    default: 1_000,
  }),
  leaderStallTimeout: setting.duration(
    'how soon PostgreSQL ends a leader session that stalls in a transaction or whose host is gone (releasing the leader lock)',
    {
      env: 'INGEST_LEADER_STALL_TIMEOUT',
      flag: 'leader-stall-timeout',
      default: 30_000,
    },
  ),
  sealInterval: setting.duration('how often the hash chain is sealed (0 = never)', {
    env: 'INGEST_SEAL_INTERVAL',
    flag: 'seal-interval',
    default: 30_000,
  }),
};

export type IngestConfig = ConfigOf<typeof ingestSettings>;

export function loadIngestConfig(source?: ConfigSource): IngestConfig {
  return loadConfig('shoal-ingest', ingestSettings, source);
}

/** Defaults for callers that build the config in code (tests, the local control plane). */
export function ingestConfig(overrides: Partial<IngestConfig> = {}): IngestConfig {
  return { ...loadConfig('shoal-ingest', ingestSettings, { argv: [], env: {} }), ...overrides };
}
