import type pg from 'pg';
import {
  PreparedAppend,
  appendInTransaction,
  retryUnderLock,
  type PreparedRequest,
} from './append.js';
import type { JsonObject } from './canonical.js';
import type { EventMetadata } from './envelope.js';
import type { ExpectedVersion } from './errors.js';

export { hashEvent } from './append.js';

/** An event to append (the envelope without its stream, which the append names). */
export interface NewEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: EventMetadata | JsonObject;
  readonly schemaVersion: number;
}

/** The part of an event a projection folds. */
export type LogEntry = Pick<
  RecordedEvent,
  'position' | 'stream' | 'type' | 'data' | 'recordedAt' | 'transactionId'
>;

export interface RecordedEvent extends NewEvent {
  readonly position: number;
  readonly stream: string;
  readonly streamVersion: number;
  readonly recordedAt: Date;
  /** xid8 of the appending transaction, as a decimal string. */
  readonly transactionId: string;
  readonly hash: string;
  readonly prevHash: string;
}

/**
 * A reader's place in the log. Readers follow (transaction id, position), not position alone:
 * positions are handed out at insert time, but transactions commit in any order, so a reader
 * that trusted `position > last` would skip an event whose transaction committed late.
 */
export interface Checkpoint {
  readonly transactionId: string;
  readonly position: number;
}

export const START: Checkpoint = { transactionId: '0', position: 0 };

export function compareCheckpoints(a: Checkpoint, b: Checkpoint): number {
  const ta = BigInt(a.transactionId);
  const tb = BigInt(b.transactionId);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.position - b.position;
}

export interface AppendRequest {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  /** A number (the stream's current version; 0 = no events), 'no-stream', or 'any' (default). */
  readonly expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  readonly stream: string;
  /** Global position of each requested event, in request order (the original one for repeats). */
  readonly positions: readonly number[];
  /** Stream version after the append. */
  readonly version: number;
  /** How many events were new (the rest had been appended before: idempotent repeats). */
  readonly appended: number;
}

/** The fields an event hash covers. */
export type HashedFields = Pick<
  RecordedEvent,
  'id' | 'stream' | 'streamVersion' | 'type' | 'data' | 'metadata' | 'schemaVersion' | 'recordedAt'
>;

// NB: the text alias below shadows the column in ORDER BY; queries order by the qualified
// `events.transaction_id` so rows sort as xid8, not as text ('1000' < '999').
const COLUMNS = `position, stream, stream_version, event_id, type, data, metadata, schema_version,
  recorded_at, transaction_id::text as transaction_id, hash, prev_hash`;

/** A row of `events` as pg returns it (see COLUMNS). */
export interface EventRow {
  position: string;
  stream: string;
  stream_version: string;
  event_id: string;
  type: string;
  data: JsonObject;
  metadata: JsonObject;
  schema_version: number;
  recorded_at: Date;
  transaction_id: string;
  hash: string;
  prev_hash: string;
}

export function toRecorded(r: EventRow): RecordedEvent {
  return {
    position: Number(r.position),
    stream: r.stream,
    streamVersion: Number(r.stream_version),
    id: r.event_id,
    type: r.type,
    data: r.data,
    metadata: r.metadata,
    schemaVersion: r.schema_version,
    recordedAt: r.recorded_at,
    transactionId: r.transaction_id,
    hash: r.hash,
    prevHash: r.prev_hash,
  };
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * The safe read horizon (xid8, as text): rows with a smaller transaction id can no longer be
 * joined by a row that sorts before them. Counts only transactions appending to this store
 * (migration 0003 says why that is enough). Call it in its own statement BEFORE the read that
 * uses it, never inside that read: the read's snapshot must be taken after the horizon.
 * The rule it relies on: an append transaction writes nothing before it locks "streams" or
 * "events" (appendMany opens its own transaction, so this holds by construction).
 */
export async function readHorizon(db: Queryable): Promise<string> {
  const res = await db.query<{ h: string }>('select shoal_read_horizon()::text as h');
  return res.rows[0]!.h;
}

/**
 * The PostgreSQL event store: append with optimistic concurrency and idempotency on event id,
 * read one stream, read the whole log gap-free.
 *
 * Hash chain: one chain per stream, ordered by stream version (appends to one stream are
 * serialized by the lock on its `streams` row, so "the previous event" is always well-defined),
 * plus global seals over the read order (hash-chain.ts). A single global chain would need every
 * append in the system to queue on one lock; per-stream chains keep writers to different
 * streams independent and the seals still pin down the global order.
 */
export class EventStore {
  constructor(readonly pool: pg.Pool) {}

  async append(
    stream: string,
    events: readonly NewEvent[],
    opts: { expectedVersion?: ExpectedVersion } = {},
  ): Promise<AppendResult> {
    const [result] = await this.appendMany([
      { stream, events, expectedVersion: opts.expectedVersion },
    ]);
    return result!;
  }

  /**
   * Append several requests in ONE transaction (ingest's batch). On a conflict nothing is
   * written and the typed error says which stream or event id. `requests` may be a
   * PreparedAppend, encoded and hash-chained ahead of the transaction (see append.ts).
   * `client`: run on this connection (ingest passes its leader connection, which is its fence).
   */
  async appendMany(
    requests: readonly (AppendRequest | PreparedRequest)[] | PreparedAppend,
    opts: { client?: pg.ClientBase; beforeCommit?: () => Promise<void> } = {},
  ): Promise<AppendResult[]> {
    const batch = requests instanceof PreparedAppend ? requests : new PreparedAppend(requests);
    const heads = batch.heads;
    const client = opts.client;
    const c = client ?? (await this.pool.connect());
    const attempt = async (trustHeads: boolean, inTransaction: boolean) => {
      if (!inTransaction) return appendInTransaction(c, batch, { trustHeads });
      await c.query('begin');
      try {
        const appended = await appendInTransaction(c, batch, { trustHeads });
        // Tests delay commits here to prove readers never skip a late commit.
        await opts.beforeCommit?.();
        await c.query('commit');
        return appended;
      } catch (err) {
        await c.query('rollback').catch(() => undefined);
        throw err;
      }
    };
    try {
      let appended;
      if (heads === undefined) {
        appended = await attempt(false, true);
      } else {
        // Hashed ahead onto heads it only assumed, the batch is first written trusting them:
        // one statement when everything was hashed ahead (no lock or lookup round trips). If
        // they were not the real heads nothing was written; it is appended again under lock.
        try {
          appended = await attempt(true, !batch.oneStatement || opts.beforeCommit !== undefined);
        } catch (err) {
          heads.forget();
          if (!retryUnderLock(err)) throw err;
          appended = await attempt(false, true);
        }
        if (appended.heads) heads.committed(batch, appended.heads);
      }
      return appended.results;
    } catch (err) {
      heads?.forget();
      throw err;
    } finally {
      if (!client) (c as pg.PoolClient).release();
    }
  }

  async readStream(
    stream: string,
    opts: { fromVersion?: number; limit?: number } = {},
  ): Promise<RecordedEvent[]> {
    const res = await this.pool.query<EventRow>(
      `select ${COLUMNS} from events where stream = $1 and stream_version >= $2
       order by stream_version limit $3`,
      [stream, opts.fromVersion ?? 1, opts.limit ?? 10_000],
    );
    return res.rows.map(toRecorded);
  }

  /**
   * Up to `limit` events after `from`, in (transaction id, position) order, and the checkpoint
   * to continue from. Only rows below the safe read horizon are returned (`readHorizon`): no
   * transaction still open can add a row that sorts before them, so the next read never finds
   * an older event than the last one read. Only appenders to this store hold the horizon back:
   * a long transaction elsewhere on the server (another database, a report) does not.
   */
  async readAll(
    from: Checkpoint = START,
    limit = 1000,
    db: Queryable = this.pool,
  ): Promise<{ events: RecordedEvent[]; checkpoint: Checkpoint }> {
    const horizon = await readHorizon(db);
    const res = await db.query<EventRow>(
      `select ${COLUMNS} from events
       where (transaction_id, position) > ($1::xid8, $2::bigint)
         and transaction_id < $4::xid8
       order by events.transaction_id, events.position
       limit $3`,
      [from.transactionId, from.position, limit, horizon],
    );
    const events = res.rows.map(toRecorded);
    const last = events.at(-1);
    return {
      events,
      checkpoint: last ? { transactionId: last.transactionId, position: last.position } : from,
    };
  }

  /**
   * readAll with only what a fold needs (no metadata, ids or hashes), for rebuilds: same order,
   * same safe horizon, less to transfer and parse.
   */
  async readAllPayload(
    from: Checkpoint = START,
    limit = 10_000,
    db: Queryable = this.pool,
  ): Promise<{ events: LogEntry[]; checkpoint: Checkpoint }> {
    const res = await db.query<{
      position: string;
      stream: string;
      type: string;
      data: JsonObject;
      recorded_at: Date;
      transaction_id: string;
    }>(
      `select position, stream, type, data, recorded_at, transaction_id::text as transaction_id
       from events
       where (transaction_id, position) > ($1::xid8, $2::bigint)
         and transaction_id < $4::xid8
       order by events.transaction_id, events.position
       limit $3`,
      [from.transactionId, from.position, limit, await readHorizon(db)],
    );
    const events = res.rows.map((r) => ({
      position: Number(r.position),
      stream: r.stream,
      type: r.type,
      data: r.data,
      recordedAt: r.recorded_at,
      transactionId: r.transaction_id,
    }));
    const last = events.at(-1);
    return {
      events,
      checkpoint: last ? { transactionId: last.transactionId, position: last.position } : from,
    };
  }

  /** True when committed events exist that readAll cannot return yet (an older append is open). */
  async hasUnsafeTail(db: Queryable = this.pool): Promise<boolean> {
    const res = await db.query<{ blocked: boolean }>(
      `select exists (select 1 from events where transaction_id >= $1::xid8) as blocked`,
      [await readHorizon(db)],
    );
    return res.rows[0]?.blocked ?? false;
  }

  /** Highest global position stored (0 when empty): the head for lag metrics. */
  async headPosition(): Promise<number> {
    const res = await this.pool.query<{ p: string | null }>(
      'select max(position) as p from events',
    );
    return Number(res.rows[0]?.p ?? 0);
  }

  /** The checkpoint of the event at `position`, to turn a position into a point of the log. */
  async checkpointAt(position: number, db: Queryable = this.pool): Promise<Checkpoint | undefined> {
    const res = await db.query<{ transaction_id: string }>(
      'select transaction_id::text as transaction_id from events where position = $1',
      [position],
    );
    const row = res.rows[0];
    return row ? { transactionId: row.transaction_id, position } : undefined;
  }
}
