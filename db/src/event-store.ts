import type pg from 'pg';
import { GENESIS_HASH, canonicalJson, sha256Hex, type JsonObject } from './canonical.js';
import type { EventMetadata } from './envelope.js';
import { ConcurrencyConflictError, EventIdConflictError, type ExpectedVersion } from './errors.js';

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

/**
 * Hash of one event, chained to the previous event of the same stream:
 * sha256(prevHash ‖ "\n" ‖ canonicalJson({data, id, metadata, recordedAt, schemaVersion, stream,
 * type, version})). `canonical` lets the append path pass data and metadata it has already
 * encoded; the text is the same as encoding the whole object (keys above are in sorted order).
 */
export function hashEvent(
  prevHash: string,
  e: HashedFields,
  canonical?: { data: string; metadata: string },
): string {
  const data = canonical?.data ?? canonicalJson(e.data);
  const metadata = canonical?.metadata ?? canonicalJson(e.metadata);
  return sha256Hex(
    `${prevHash}\n{"data":${data},"id":${JSON.stringify(e.id)},"metadata":${metadata},` +
      `"recordedAt":${JSON.stringify(e.recordedAt.toISOString())},"schemaVersion":${canonicalJson(e.schemaVersion)},` +
      `"stream":${JSON.stringify(e.stream)},"type":${JSON.stringify(e.type)},"version":${canonicalJson(e.streamVersion)}}`,
  );
}

/** What must be equal for a repeated event id to count as the same event. */
function content(
  stream: string,
  e: NewEvent,
  canonical?: { data: string; metadata: string },
): string {
  return (
    `${JSON.stringify(stream)}\n${JSON.stringify(e.type)}\n${e.schemaVersion}\n` +
    `${canonical?.data ?? canonicalJson(e.data)}\n${canonical?.metadata ?? canonicalJson(e.metadata)}`
  );
}

// NB: the text alias below shadows the column in ORDER BY; queries order by the qualified
// `events.transaction_id` so rows sort as xid8, not as text ('1000' < '999').
const COLUMNS = `position, stream, stream_version, event_id, type, data, metadata, schema_version,
  recorded_at, transaction_id::text as transaction_id, hash, prev_hash`;

interface EventRow {
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
   * written and the typed error says which stream or event id.
   * `client`: run on this connection (ingest passes its leader connection, which is its fence).
   */
  async appendMany(
    requests: readonly AppendRequest[],
    opts: { client?: pg.ClientBase; beforeCommit?: () => Promise<void> } = {},
  ): Promise<AppendResult[]> {
    const client = opts.client;
    const c = client ?? (await this.pool.connect());
    try {
      await c.query('begin');
      try {
        const results = await appendInTransaction(c, requests, new Date());
        // Tests delay commits here to prove readers never skip a late commit.
        await opts.beforeCommit?.();
        await c.query('commit');
        return results;
      } catch (err) {
        await c.query('rollback').catch(() => undefined);
        throw err;
      }
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
   * to continue from. Only rows of transactions older than every transaction still running are
   * returned: those can no longer change, and no transaction that is still open can add a row
   * that sorts before them. So the next read never finds an older event than the last one read.
   * (Any long-running transaction on the server holds readers back until it ends.)
   */
  async readAll(
    from: Checkpoint = START,
    limit = 1000,
    db: Queryable = this.pool,
  ): Promise<{ events: RecordedEvent[]; checkpoint: Checkpoint }> {
    const res = await db.query<EventRow>(
      `select ${COLUMNS} from events
       where (transaction_id, position) > ($1::xid8, $2::bigint)
         and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       order by events.transaction_id, events.position
       limit $3`,
      [from.transactionId, from.position, limit],
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
         and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       order by events.transaction_id, events.position
       limit $3`,
      [from.transactionId, from.position, limit],
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

  /** True when committed events exist that readAll cannot return yet (an older transaction is open). */
  async hasUnsafeTail(db: Queryable = this.pool): Promise<boolean> {
    const res = await db.query<{ blocked: boolean }>(
      `select exists (select 1 from events
         where transaction_id >= pg_snapshot_xmin(pg_current_snapshot())) as blocked`,
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

interface Pending {
  stream: string;
  event: NewEvent;
  canonical: { data: string; metadata: string };
  content: string;
  /** Where the position comes from: an existing row, or the insert (index into `inserts`). */
  position?: number;
  insertIndex?: number;
  sameAs?: Pending;
}

async function appendInTransaction(
  c: Queryable,
  requests: readonly AppendRequest[],
  now: Date,
): Promise<AppendResult[]> {
  const ids = requests.flatMap((r) => r.events.map((e) => e.id));
  const existing = new Map<string, { position: number; content: string; stream: string }>();
  if (ids.length > 0) {
    const res = await c.query<EventRow>(
      `select ${COLUMNS} from events where event_id = any($1::uuid[])`,
      [ids],
    );
    for (const r of res.rows) {
      const e = toRecorded(r);
      existing.set(e.id, { position: e.position, content: content(e.stream, e), stream: e.stream });
    }
  }

  // Classify every event: stored before, repeated within this batch, or new.
  const seen = new Map<string, Pending>();
  const perRequest: Pending[][] = [];
  const newStreams = new Set<string>();
  for (const req of requests) {
    const list: Pending[] = [];
    for (const event of req.events) {
      const canonical = {
        data: canonicalJson(event.data),
        metadata: canonicalJson(event.metadata),
      };
      const p: Pending = {
        stream: req.stream,
        event,
        canonical,
        content: content(req.stream, event, canonical),
      };
      const old = existing.get(event.id);
      const twin = seen.get(event.id);
      if (old) {
        if (old.content !== p.content)
          throw new EventIdConflictError(event.id, old.position, old.stream);
        p.position = old.position;
      } else if (twin) {
        if (twin.content !== p.content)
          throw new EventIdConflictError(event.id, undefined, twin.stream);
        p.sameAs = twin;
      } else {
        seen.set(event.id, p);
        newStreams.add(req.stream);
      }
      list.push(p);
    }
    perRequest.push(list);
  }

  // Lock the streams that get new events, in a fixed order so concurrent appenders can't deadlock.
  const streamNames = [...newStreams].sort();
  const heads = new Map<string, { version: number; hash: string }>();
  if (streamNames.length > 0) {
    await c.query(
      `insert into streams (stream, version, last_hash)
       select s, 0, $2 from unnest($1::text[]) as s order by s on conflict (stream) do nothing`,
      [streamNames, GENESIS_HASH],
    );
    const res = await c.query<{ stream: string; version: string; last_hash: string }>(
      `select stream, version, last_hash from streams where stream = any($1::text[])
       order by stream for update`,
      [streamNames],
    );
    for (const r of res.rows)
      heads.set(r.stream, { version: Number(r.version), hash: r.last_hash });
  }
  // Stream versions before any event of this batch, for the expected-version check of requests.
  const currentVersion = async (stream: string): Promise<number> => {
    const h = heads.get(stream);
    if (h) return h.version;
    const res = await c.query<{ version: string }>(
      'select version from streams where stream = $1',
      [stream],
    );
    return Number(res.rows[0]?.version ?? 0);
  };

  const rows = {
    stream: [] as string[],
    version: [] as number[],
    id: [] as string[],
    type: [] as string[],
    data: [] as string[],
    metadata: [] as string[],
    schemaVersion: [] as number[],
    hash: [] as string[],
    prevHash: [] as string[],
  };
  const versionAfter: number[] = [];
  for (const [i, req] of requests.entries()) {
    const list = perRequest[i]!;
    const fresh = list.filter((p) => p.position === undefined && p.sameAs === undefined);
    const expected = req.expectedVersion ?? 'any';
    // A request whose events were all stored before is a retry of a success: no version check.
    if (fresh.length === 0) {
      versionAfter.push(await currentVersion(req.stream));
      continue;
    }
    const actual = await currentVersion(req.stream);
    if (
      (expected === 'no-stream' && actual !== 0) ||
      (typeof expected === 'number' && expected !== actual)
    ) {
      throw new ConcurrencyConflictError(req.stream, expected, actual);
    }
    const head = heads.get(req.stream)!;
    for (const p of fresh) {
      const version = head.version + 1;
      const hash = hashEvent(
        head.hash,
        { ...p.event, stream: req.stream, streamVersion: version, recordedAt: now },
        p.canonical,
      );
      p.insertIndex = rows.id.length;
      rows.stream.push(req.stream);
      rows.version.push(version);
      rows.id.push(p.event.id);
      rows.type.push(p.event.type);
      rows.data.push(p.canonical.data);
      rows.metadata.push(p.canonical.metadata);
      rows.schemaVersion.push(p.event.schemaVersion);
      rows.hash.push(hash);
      rows.prevHash.push(head.hash);
      head.version = version;
      head.hash = hash;
    }
    versionAfter.push(head.version);
  }

  const inserted: number[] = [];
  if (rows.id.length > 0) {
    // Positions come from the sequence in the order of `ord`, so within a stream position
    // order is version order.
    const res = await c.query<{ position: string }>(
      `insert into events (stream, stream_version, event_id, type, data, metadata,
                           schema_version, recorded_at, hash, prev_hash)
       select stream, version, id, type, data::jsonb, metadata::jsonb, sv, $10, hash, prev
       from unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                   $7::int[], $8::text[], $9::text[])
            with ordinality as u(stream, version, id, type, data, metadata, sv, hash, prev, ord)
       order by ord
       returning position`,
      [
        rows.stream,
        rows.version,
        rows.id,
        rows.type,
        rows.data,
        rows.metadata,
        rows.schemaVersion,
        rows.hash,
        rows.prevHash,
        now,
      ],
    );
    // RETURNING follows insertion order.
    for (const r of res.rows) inserted.push(Number(r.position));
    await c.query(
      `update streams s set version = u.version, last_hash = u.hash, updated_at = now()
       from unnest($1::text[], $2::bigint[], $3::text[]) as u(stream, version, hash)
       where s.stream = u.stream`,
      [
        [...heads.keys()],
        [...heads.values()].map((h) => h.version),
        [...heads.values()].map((h) => h.hash),
      ],
    );
  }

  const positionOf = (p: Pending): number =>
    p.position ?? (p.sameAs ? positionOf(p.sameAs) : inserted[p.insertIndex!]!);
  return requests.map((req, i) => {
    const list = perRequest[i]!;
    return {
      stream: req.stream,
      positions: list.map(positionOf),
      version: versionAfter[i]!,
      appended: list.filter((p) => p.insertIndex !== undefined).length,
    };
  });
}
