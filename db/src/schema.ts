import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/** PostgreSQL's 64-bit, wraparound-free transaction id; read as a decimal string. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

/**
 * The append-only log. `position` is the global order of inserts; readers follow
 * (transaction_id, position) instead, reading only below the oldest running transaction, so an
 * event whose transaction commits late is never skipped (see event-store.ts).
 */
export const events = pgTable(
  'events',
  {
    position: bigserial('position', { mode: 'number' }).primaryKey(),
    stream: text('stream').notNull(),
    streamVersion: bigint('stream_version', { mode: 'number' }).notNull(),
    eventId: uuid('event_id').notNull(),
    type: text('type').notNull(),
    data: jsonb('data').notNull(),
    metadata: jsonb('metadata').notNull(),
    schemaVersion: integer('schema_version').notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull(),
    transactionId: xid8('transaction_id')
      .notNull()
      .default(sql`pg_current_xact_id()`),
    /** sha256(prev_hash ‖ canonical event), chained per stream in stream-version order. */
    hash: text('hash').notNull(),
    prevHash: text('prev_hash').notNull(),
  },
  (t) => [
    uniqueIndex('events_event_id_key').on(t.eventId),
    uniqueIndex('events_stream_version_key').on(t.stream, t.streamVersion),
    index('events_transaction_position_idx').on(t.transactionId, t.position),
    index('events_recorded_at_idx').on(t.recordedAt),
  ],
);

/** One row per stream: its version and the hash of its last event (the chain head). */
export const streams = pgTable('streams', {
  stream: text('stream').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull(),
  lastHash: text('last_hash').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Where each reader of the log (projector, …) has got to, as a (transaction id, position) pair. */
export const consumerCheckpoints = pgTable('consumer_checkpoints', {
  consumer: text('consumer').primaryKey(),
  transactionId: xid8('transaction_id').notNull(),
  position: bigint('position', { mode: 'number' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Global seals: each hashes the previous seal and every event hash in read order up to a safe
 * (transaction id, position) point, so deleting or reordering whole events (which per-stream
 * chains alone cannot see at a stream's tail) is detected too.
 */
export const chainSeals = pgTable('chain_seals', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  transactionId: xid8('transaction_id').notNull(),
  position: bigint('position', { mode: 'number' }).notNull(),
  eventCount: bigint('event_count', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
  prevHash: text('prev_hash').notNull(),
  sealedAt: timestamp('sealed_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Projection: the desired mesh state, one row per resource. */
export const resources = pgTable(
  'resources',
  {
    cluster: text('cluster').notNull(),
    kind: text('kind').notNull(),
    namespace: text('namespace').notNull(),
    name: text('name').notNull(),
    spec: jsonb('spec').notNull(),
    resourceVersion: text('resource_version'),
    /** Global position of the event that last changed this resource. */
    position: bigint('position', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.cluster, t.kind, t.namespace, t.name] })],
);

/**
 * Periodic full copies of a projection's state at a point of the log, so stateAt() replays only
 * the events after the nearest snapshot.
 */
export const projectionSnapshots = pgTable(
  'projection_snapshots',
  {
    projection: text('projection').notNull(),
    transactionId: xid8('transaction_id').notNull(),
    position: bigint('position', { mode: 'number' }).notNull(),
    eventCount: bigint('event_count', { mode: 'number' }).notNull(),
    state: jsonb('state').notNull(),
    takenAt: timestamp('taken_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.projection, t.transactionId, t.position] })],
);
