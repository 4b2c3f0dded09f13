import type pg from 'pg';
import { GENESIS_HASH, canonicalJson, sha256Hex } from './canonical.js';
import { ConcurrencyConflictError, EventIdConflictError, type ExpectedVersion } from './errors.js';
import type {
  AppendRequest,
  AppendResult,
  EventRow,
  HashedFields,
  NewEvent,
} from './event-store.js';

// The append path of the event store. Its CPU work (encoding, numbering, hashing, writing the
// insert's JSON) is done in a PreparedAppend, which needs no database: an appender that knows
// the stream heads its batch will find (ingest: the heads its previous batch will leave) does it
// all while that previous batch commits. Trusting those heads, the batch is then written by one
// statement that moves each head only if it still is the one assumed. If one is not, or an event
// was stored before, nothing is written and the batch is appended again the careful way: lock
// the heads, look for stored events, hash again what moved.

type Queryable = Pick<pg.ClientBase, 'query'>;

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
  return chainHash(prevHash, {
    data: canonical?.data ?? canonicalJson(e.data),
    id: JSON.stringify(e.id),
    metadata: canonical?.metadata ?? canonicalJson(e.metadata),
    recordedAt: JSON.stringify(e.recordedAt.toISOString()),
    schemaVersion: canonicalJson(e.schemaVersion),
    stream: JSON.stringify(e.stream),
    type: JSON.stringify(e.type),
    version: canonicalJson(e.streamVersion),
  });
}

/** The hashed fields, each already JSON text (the append path encodes the shared ones once). */
interface HashedJson {
  data: string;
  id: string;
  metadata: string;
  recordedAt: string;
  schemaVersion: string;
  stream: string;
  type: string;
  version: string;
}

function chainHash(prevHash: string, j: HashedJson): string {
  return sha256Hex(
    `${prevHash}\n{"data":${j.data},"id":${j.id},"metadata":${j.metadata},"recordedAt":${j.recordedAt},` +
      `"schemaVersion":${j.schemaVersion},"stream":${j.stream},"type":${j.type},"version":${j.version}}`,
  );
}

/**
 * An event as the store writes it: data and metadata already canonical JSON, the text that is
 * stored, hashed and compared.
 */
export interface EncodedEvent {
  readonly id: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: string;
  readonly metadata: string;
}

export function encodeEvent(e: NewEvent): EncodedEvent {
  return {
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion,
    data: canonicalJson(e.data),
    metadata: canonicalJson(e.metadata),
  };
}

/** An append request whose events are encoded already (ingest keeps only the text). */
export class PreparedRequest {
  constructor(
    readonly stream: string,
    readonly events: readonly EncodedEvent[],
    readonly expectedVersion?: ExpectedVersion,
  ) {}

  static of(req: AppendRequest | PreparedRequest): PreparedRequest {
    if (req instanceof PreparedRequest) return req;
    return new PreparedRequest(req.stream, req.events.map(encodeEvent), req.expectedVersion);
  }
}

/** What must be equal for a repeated event id to count as the same event. */
function content(stream: string, e: EncodedEvent): string {
  return `${JSON.stringify(stream)}\n${JSON.stringify(e.type)}\n${e.schemaVersion}\n${e.data}\n${e.metadata}`;
}

interface Head {
  readonly version: number;
  readonly hash: string;
}

const sameHead = (a: Head | undefined, b: Head) =>
  a !== undefined && a.version === b.version && a.hash === b.hash;

/**
 * The stream heads an appender expects its next batch to find: the heads its own batches left,
 * as planned (before they commit). A guess, never trusted: each transaction checks it against
 * the locked heads. One per appender that appends in order (ingest: one per leader term).
 */
export class StreamHeads {
  // `owner`: the last batch that planned the stream; `head` undefined = that batch could not
  // hash it ahead (the head was unknown), so it is known only once that batch commits.
  readonly #heads = new Map<string, { head?: Head; owner?: PreparedAppend }>();

  /** Kept small: a miss only means hashing that stream inside its transaction. */
  static readonly MAX_STREAMS = 100_000;

  expected(stream: string): Head | undefined {
    return this.#heads.get(stream)?.head;
  }

  /**
   * Whether every stream of `requests` has an expected head. When not, and a batch is still
   * in flight, preparing after it commits lets this batch be hashed ahead (the heads of streams
   * that batch could not hash ahead are known only then).
   */
  expectsAll(requests: readonly { readonly stream: string }[]): boolean {
    return requests.every((r) => this.#heads.get(r.stream)?.head !== undefined);
  }

  plan(stream: string, head: Head | undefined, owner: PreparedAppend): void {
    if (this.#heads.size >= StreamHeads.MAX_STREAMS && !this.#heads.has(stream))
      this.#heads.clear();
    this.#heads.set(stream, { head, owner });
  }

  /** After a commit: the real heads, for the streams no later batch has planned since. */
  committed(owner: PreparedAppend, heads: ReadonlyMap<string, Head>): void {
    for (const [stream, head] of heads) {
      const entry = this.#heads.get(stream);
      if (entry === undefined || entry.owner === owner) this.#heads.set(stream, { head });
    }
  }

  /** After a failed transaction nothing planned can be trusted. */
  forget(): void {
    this.#heads.clear();
  }
}

/** One event of a batch. */
interface Slot {
  readonly stream: string;
  event: EncodedEvent;
  /** An earlier event of this batch with the same id (stored once). */
  readonly sameAs?: Slot;
  /** Set in the transaction when the event was stored before. */
  position?: number;
  /** The insert row (JSON) and its index in the insert, for new events. */
  row?: string;
  insertIndex?: number;
  /** Where the event's data starts in `row`. */
  dataAt?: number;
}

/** A stream's new events in this batch, and the head they were hashed onto. */
interface Chain {
  readonly slots: Slot[];
  /** The head the rows of `slots` follow; undefined before they are hashed. */
  before?: Head;
  after?: Head;
}

/**
 * A batch of append requests, encoded and — for every stream whose head `heads` expects —
 * numbered and hash-chained ahead of its transaction, with `recordedAt` fixed now. Pure CPU.
 * When every stream was hashed ahead, the insert's JSON is joined here too, and the batch can
 * be written by one statement (`oneStatement`). Its fields are the append path's working state.
 */
export class PreparedAppend {
  requests: readonly PreparedRequest[];
  readonly recordedAt = new Date();
  readonly slots: readonly Slot[][];
  readonly chains = new Map<string, Chain>();
  /** A twin with different content: thrown by the append, so the caller sees one error path. */
  conflict?: EventIdConflictError;
  /** The insert's JSON, when every stream was hashed ahead and it fits one statement. */
  text?: string;
  /**
   * With `text`, when the expected versions hold on the heads assumed: the heads the insert
   * moves (JSON, from → to) and each request's stream version after it.
   */
  ahead?: { readonly moves: string; readonly versions: readonly number[] };

  constructor(
    requests: readonly (AppendRequest | PreparedRequest)[],
    readonly heads?: StreamHeads,
  ) {
    this.requests = requests.map((r) => PreparedRequest.of(r));
    const seen = new Map<string, Slot>();
    this.slots = this.requests.map((req) =>
      req.events.map((event) => {
        const twin = seen.get(event.id);
        if (twin === undefined) {
          const slot: Slot = { stream: req.stream, event };
          seen.set(event.id, slot);
          this.chainOf(req.stream).slots.push(slot);
          return slot;
        }
        if (content(twin.stream, twin.event) !== content(req.stream, event))
          this.conflict ??= new EventIdConflictError(event.id, undefined, twin.stream);
        return { stream: req.stream, event, sameAs: twin };
      }),
    );
    if (!heads) return;
    const recordedAt = JSON.stringify(this.recordedAt.toISOString());
    let all = true;
    for (const [stream, chain] of this.chains) {
      const before = heads.expected(stream);
      if (before) {
        chain.before = before;
        chain.after = hashChain(stream, chain.slots, before, recordedAt);
      } else all = false;
      heads.plan(stream, chain.after, this);
    }
    const rows = this.slots.flat().filter((s) => s.row !== undefined);
    if (all && rows.length > 0 && this.requests.every((r) => r.events.length > 0)) {
      const text = jsonArray(rows.map((s) => s.row!));
      if (text.length <= MAX_INSERT_CHARS) {
        this.keep(text, rows);
        this.ahead = this.planAhead();
      }
    }
  }

  /** See `ahead`; undefined when an expected version does not hold on the heads assumed. */
  private planAhead(): PreparedAppend['ahead'] {
    const current = new Map<string, number>();
    const versions: number[] = [];
    for (const [i, req] of this.requests.entries()) {
      const actual = current.get(req.stream) ?? this.chains.get(req.stream)!.before!.version;
      const expected = req.expectedVersion ?? 'any';
      if (
        (expected === 'no-stream' && actual !== 0) ||
        (typeof expected === 'number' && expected !== actual)
      )
        return undefined; // decided on the real heads, under lock
      let after = actual;
      for (const slot of this.slots[i]!) if (!slot.sameAs) after++;
      current.set(req.stream, after);
      versions.push(after);
    }
    const moves = [...this.chains].map(([stream, { before, after }]) => ({
      stream,
      version: after!.version,
      hash: after!.hash,
      from_version: before!.version,
      from_hash: before!.hash,
    }));
    return { moves: JSON.stringify(moves), versions };
  }

  /**
   * Keep the joined insert JSON, and let the rows and the separately encoded data die young:
   * while the batch waits for its turn, each event's data and metadata are slices of the JSON
   * (a batch in flight is otherwise copied from young to old memory by every garbage
   * collection). Should the heads be wrong, hashing again makes the rows anew.
   */
  private keep(text: string, rows: readonly Slot[]): void {
    this.text = text;
    let at = 1; // past '['
    for (const slot of rows) {
      const { id, type, schemaVersion, data, metadata } = slot.event;
      const d = at + slot.dataAt!;
      const m = d + data.length + METADATA_KEY.length;
      slot.event = {
        id,
        type,
        schemaVersion,
        data: text.slice(d, d + data.length),
        metadata: text.slice(m, m + metadata.length),
      };
      at += slot.row!.length + 1;
      slot.row = undefined;
    }
    this.requests = this.requests.map(
      (r, i) =>
        new PreparedRequest(
          r.stream,
          this.slots[i]!.map((s) => s.event),
          r.expectedVersion,
        ),
    );
  }

  /** The same batch without request `index` (ingest drops an event it dead-letters). */
  without(index: number): PreparedAppend {
    return new PreparedAppend(
      this.requests.filter((_, i) => i !== index),
      this.heads,
    );
  }

  /** Everything was hashed ahead: one statement can write the batch, if the heads hold. */
  get oneStatement(): boolean {
    return this.ahead !== undefined && this.conflict === undefined;
  }

  private chainOf(stream: string): Chain {
    let chain = this.chains.get(stream);
    if (!chain) this.chains.set(stream, (chain = { slots: [] }));
    return chain;
  }
}

const METADATA_KEY = ',"metadata":';

/** Number and hash `slots` (one stream's new events, in order) onto `head`; returns the new head. */
function hashChain(stream: string, slots: readonly Slot[], head: Head, recordedAt: string): Head {
  const streamJson = JSON.stringify(stream);
  let { version, hash } = head;
  for (const slot of slots) {
    version++;
    const prev = hash;
    const id = JSON.stringify(slot.event.id);
    const type = JSON.stringify(slot.event.type);
    const schemaVersion = canonicalJson(slot.event.schemaVersion);
    hash = chainHash(prev, {
      data: slot.event.data,
      id,
      metadata: slot.event.metadata,
      recordedAt,
      schemaVersion,
      stream: streamJson,
      type,
      version: String(version),
    });
    const head = `{"stream":${streamJson},"version":${version},"id":${id},"type":${type},"data":`;
    slot.dataAt = head.length;
    slot.row =
      `${head}${slot.event.data}${METADATA_KEY}${slot.event.metadata},"sv":${schemaVersion},` +
      `"hash":"${hash}","prev":"${prev}"}`;
  }
  return { version, hash };
}

/**
 * Create the rows of streams seen for the first time, lock the head of every stream (both in
 * sorted order, inserts first, so concurrent appenders cannot deadlock) and, when asked, list
 * which of the event ids are stored already: one round trip. The NOT EXISTS filter keeps the
 * usual case, where every stream exists, from attempting an insert per stream.
 */
const LOCK_HEADS = `
  with created as (
    insert into streams (stream, version, last_hash)
    select s, 0, $3 from unnest($1::text[]) as s
    where not exists (select 1 from streams t where t.stream = s)
    order by s
    on conflict (stream) do nothing
    returning stream, version, last_hash
  ), locked as (
    select stream, version, last_hash from streams where stream = any($1::text[])
    order by stream for update
  )
  select stream, version, last_hash, null as stored from created
  union all select stream, version, last_hash, null from locked
  union all select null, null, null, event_id::text from events where event_id = any($2::uuid[])`;

/** Marks the error the insert raises when a head it was to move had moved. */
const HEADS_MOVED = 'shoal: stream heads moved since the batch was hashed';

/**
 * One statement per chunk of rows: the rows travel as one JSON array (already-canonical text,
 * so nothing is escaped twice and PostgreSQL parses it once) and positions come from the
 * sequence in array order, so within a stream position order is version order. The last chunk
 * also moves the stream heads, each only from the head its events were hashed onto; if any had
 * moved, the statement fails as a whole (a failed cast is SQL's way to raise) and
 * retryUnderLock recognises the error.
 */
const INSERT_EVENTS = `
  with moved as (
    update streams s set version = h.version, last_hash = h.hash, updated_at = now()
    from jsonb_to_recordset($2::jsonb)
         as h(stream text, version bigint, hash text, from_version bigint, from_hash text)
    where s.stream = h.stream and s.version = h.from_version and s.last_hash = h.from_hash
    returning 1
  ), inserted as (
    insert into events (stream, stream_version, event_id, type, data, metadata, schema_version,
                        recorded_at, hash, prev_hash)
    select stream, version, id, type, data, metadata, sv, $3, hash, prev
    from rows from (jsonb_to_recordset($1::jsonb) as (stream text, version bigint, id uuid,
           type text, data jsonb, metadata jsonb, sv int, hash text, prev text))
         with ordinality as u(stream, version, id, type, data, metadata, sv, hash, prev, ord)
    order by ord
    returning position
  ), checked as (
    select case when count(*) <> jsonb_array_length($2::jsonb) then
      ('${HEADS_MOVED}: ' || count(*) || ' of ' || jsonb_array_length($2::jsonb))::int end as failed
    from moved
  )
  select position, (select failed from checked) from inserted order by position`;

/**
 * Most JSON text one insert statement carries. A batch of large events is split over several
 * statements (same transaction, same order) to keep each well below jsonb's 256 MB limit.
 */
const MAX_INSERT_CHARS = 32 * 1024 * 1024;

async function lockHeads(
  c: Queryable,
  streams: readonly string[],
  ids: readonly string[],
): Promise<{ heads: Map<string, Head>; stored: string[] }> {
  type Row = { stream: string; version: string; last_hash: string; stored: null };
  type StoredRow = { stream: null; version: null; last_hash: null; stored: string };
  const heads = new Map<string, Head>();
  const stored: string[] = [];
  if (streams.length === 0) return { heads, stored };
  const res = await c.query<Row | StoredRow>(LOCK_HEADS, [streams, ids, GENESIS_HASH]);
  for (const r of res.rows) {
    if (r.stored !== null) stored.push(r.stored);
    else heads.set(r.stream, { version: Number(r.version), hash: r.last_hash });
  }
  // A stream another appender created after this statement began is in neither list: lock it now.
  const missed = streams.filter((s) => !heads.has(s));
  if (missed.length > 0) {
    const more = await c.query<Row>(
      `select stream, version, last_hash from streams where stream = any($1::text[])
       order by stream for update`,
      [missed],
    );
    for (const r of more.rows)
      heads.set(r.stream, { version: Number(r.version), hash: r.last_hash });
  }
  return { heads, stored };
}

/** The stored events with these ids: where they are, and what a repeat must match. */
async function storedEvents(
  c: Queryable,
  ids: readonly string[],
): Promise<Map<string, { position: number; stream: string; content: string }>> {
  const res = await c.query<
    Pick<
      EventRow,
      'position' | 'stream' | 'event_id' | 'type' | 'data' | 'metadata' | 'schema_version'
    >
  >(
    `select position, stream, event_id, type, data, metadata, schema_version
     from events where event_id = any($1::uuid[])`,
    [ids],
  );
  const stored = new Map<string, { position: number; stream: string; content: string }>();
  for (const r of res.rows) {
    const e = encodeEvent({
      id: r.event_id,
      type: r.type,
      data: r.data,
      metadata: r.metadata,
      schemaVersion: r.schema_version,
    });
    stored.set(r.event_id, {
      position: Number(r.position),
      stream: r.stream,
      content: content(r.stream, e),
    });
  }
  return stored;
}

/**
 * The heads a batch was hashed onto ahead of time were not the real ones (another appender
 * wrote in between, or an earlier batch failed): the batch is appended again under lock.
 */
class HeadsMovedError extends Error {
  constructor() {
    super(`${HEADS_MOVED}; append it again under lock`);
  }
}

/** Errors after which a batch hashed ahead is appended again under lock: surprises, not failures. */
export function retryUnderLock(err: unknown): boolean {
  if (err instanceof HeadsMovedError) return true;
  const e = err as { code?: string; constraint?: string; message?: string };
  return (
    // A head had moved (INSERT_EVENTS's check).
    (e.code === '22P02' && e.message?.includes(HEADS_MOVED) === true) ||
    // Stored already (a redelivery after a lost ack), or a version another appender took.
    (e.code === '23505' &&
      (e.constraint === 'events_event_id_key' || e.constraint === 'events_stream_version_key')) ||
    e.code === '40P01' // deadlock
  );
}

/**
 * Write a prepared batch: inside the caller's transaction, or on its own when the batch is
 * `oneStatement` and the heads are trusted (then it is exactly one statement). Returns the
 * results and the stream heads after it (for StreamHeads, once committed).
 *
 * `trustHeads`: take the heads the batch was hashed onto as the real ones instead of locking
 * and reading them, and do not look for events stored before. Any surprise still surfaces, and
 * nothing is written: the insert moves each head only from the head assumed and fails
 * otherwise, and the unique keys on event id and stream version refuse a stored event or a
 * taken version (see retryUnderLock). Then the caller appends again without trusting.
 */
export async function appendInTransaction(
  c: Queryable,
  batch: PreparedAppend,
  opts: { trustHeads: boolean },
): Promise<{ results: AppendResult[]; heads?: Map<string, Head> }> {
  if (batch.conflict) throw batch.conflict;
  const slots = batch.slots.flat();
  for (const slot of slots) slot.position = slot.insertIndex = undefined; // a retried batch
  if (opts.trustHeads && batch.ahead) return { results: await writeAhead(c, batch, slots) };
  const trusted = (chain: Chain) => opts.trustHeads && chain.before !== undefined;
  const toLock = [...batch.chains].filter(([, chain]) => !trusted(chain)).map(([s]) => s);
  const locked = await lockHeads(
    c,
    toLock.sort(),
    opts.trustHeads ? [] : slots.map((s) => s.event.id),
  );
  const heads = new Map<string, Head>();
  for (const [stream, chain] of batch.chains)
    heads.set(stream, trusted(chain) ? chain.before! : locked.heads.get(stream)!);

  // Events stored before (a redelivery after a lost ack) are rare: only then read them, and
  // number their streams again.
  const moved = new Set<string>();
  if (locked.stored.length > 0) {
    const existing = await storedEvents(c, locked.stored);
    for (const slot of slots) {
      const old = existing.get(slot.event.id);
      if (!old || slot.sameAs) continue;
      if (old.content !== content(slot.stream, slot.event))
        throw new EventIdConflictError(slot.event.id, old.position, old.stream);
      slot.position = old.position;
      moved.add(slot.stream);
    }
  }

  // Expected versions, checked in request order against the version before each request
  // (earlier requests of the batch included). Requests without events only report a version.
  const unlocked = await versionsOf(
    c,
    batch.requests.filter((r) => !heads.has(r.stream)).map((r) => r.stream),
  );
  const current = new Map<string, number>();
  const versionAfter: number[] = [];
  for (const [i, req] of batch.requests.entries()) {
    const fresh = batch.slots[i]!.filter((s) => !s.sameAs && s.position === undefined).length;
    const actual =
      current.get(req.stream) ?? heads.get(req.stream)?.version ?? unlocked.get(req.stream) ?? 0;
    const expected = req.expectedVersion ?? 'any';
    // A request whose events were all stored before is a retry of a success: no version check.
    if (
      fresh > 0 &&
      ((expected === 'no-stream' && actual !== 0) ||
        (typeof expected === 'number' && expected !== actual))
    ) {
      // Decided only on real heads: an assumed one may be out of date.
      if (opts.trustHeads) throw new HeadsMovedError();
      throw new ConcurrencyConflictError(req.stream, expected, actual);
    }
    current.set(req.stream, actual + fresh);
    versionAfter.push(actual + fresh);
  }

  // Hash every stream whose rows do not follow the head it has. The batch's joined JSON holds
  // when none had to be; otherwise rows are made again (hashing is deterministic, so streams
  // whose head held get the same rows).
  const recordedAt = JSON.stringify(batch.recordedAt.toISOString());
  let text = batch.text;
  for (const [stream, chain] of batch.chains) {
    const head = heads.get(stream)!;
    if (moved.has(stream) || !sameHead(chain.before, head)) text = undefined;
  }
  const from = new Map<string, Head>();
  const after = new Map<string, Head>();
  for (const [stream, chain] of batch.chains) {
    const head = heads.get(stream)!;
    const fresh = chain.slots.filter((s) => s.position === undefined);
    if (
      moved.has(stream) ||
      !sameHead(chain.before, head) ||
      (!text && fresh[0]?.row === undefined)
    ) {
      chain.after = fresh.length > 0 ? hashChain(stream, fresh, head, recordedAt) : head;
      // The rows now follow `head`, unless some events were left out as stored.
      chain.before = moved.has(stream) ? undefined : head;
    }
    if (chain.after!.version !== head.version) {
      from.set(stream, head);
      after.set(stream, chain.after!);
    }
  }

  let rowCount = 0;
  for (const slot of slots)
    if (!slot.sameAs && slot.position === undefined) slot.insertIndex = rowCount++;
  const chunks = text
    ? [text]
    : chunkRows(slots.filter((s) => s.insertIndex !== undefined).map((s) => s.row!)).map(jsonArray);
  const positions: number[] = [];
  for (const [k, chunk] of chunks.entries()) {
    const streams = k === chunks.length - 1 ? [...after.keys()] : [];
    const moves = streams.map((stream) => {
      const [a, f] = [after.get(stream)!, from.get(stream)!];
      return {
        stream,
        version: a.version,
        hash: a.hash,
        from_version: f.version,
        from_hash: f.hash,
      };
    });
    const res = await c.query<{ position: string }>(INSERT_EVENTS, [
      chunk,
      JSON.stringify(moves),
      batch.recordedAt,
    ]);
    for (const r of res.rows) positions.push(Number(r.position));
  }

  const positionOf = (s: Slot): number =>
    s.sameAs ? positionOf(s.sameAs) : (s.position ?? positions[s.insertIndex!]!);
  const results = batch.requests.map((req, i) => ({
    stream: req.stream,
    positions: batch.slots[i]!.map(positionOf),
    version: versionAfter[i]!,
    appended: batch.slots[i]!.filter((s) => s.insertIndex !== undefined).length,
  }));
  return { results, heads: new Map([...heads, ...after]) };
}

/**
 * The batch exactly as hashed ahead, by one statement: everything but the insert was worked out
 * beforehand. (The heads it leaves are those StreamHeads has planned already.)
 */
async function writeAhead(
  c: Queryable,
  batch: PreparedAppend,
  slots: readonly Slot[],
): Promise<AppendResult[]> {
  const { moves, versions } = batch.ahead!;
  const res = await c.query<{ position: string }>(INSERT_EVENTS, [
    batch.text,
    moves,
    batch.recordedAt,
  ]);
  let k = 0;
  for (const slot of slots) if (!slot.sameAs) slot.position = Number(res.rows[k++]!.position);
  const positionOf = (s: Slot): number => (s.sameAs ? positionOf(s.sameAs) : s.position!);
  return batch.requests.map((req, i) => {
    const own = batch.slots[i]!;
    let appended = 0;
    for (const s of own) if (!s.sameAs) appended++;
    return { stream: req.stream, positions: own.map(positionOf), version: versions[i]!, appended };
  });
}

/** Versions of streams this append does not lock (requests without events). */
async function versionsOf(c: Queryable, streams: readonly string[]): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  if (streams.length === 0) return versions;
  const res = await c.query<{ stream: string; version: string }>(
    'select stream, version from streams where stream = any($1::text[])',
    [streams],
  );
  for (const r of res.rows) versions.set(r.stream, Number(r.version));
  return versions;
}

/** `[row,row,…]` built by one join, so it comes out flat: wrapping it would make the driver copy it. */
function jsonArray(rows: readonly string[]): string {
  const parts = [...rows];
  parts[0] = `[${parts[0]}`;
  parts[parts.length - 1] = `${parts.at(-1)}]`;
  return parts.join(',');
}

/** Split rows into runs of at most MAX_INSERT_CHARS of JSON (a run holds at least one row). */
function chunkRows(rows: readonly string[]): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let size = 0;
  for (const row of rows) {
    if (chunk.length > 0 && size + row.length > MAX_INSERT_CHARS) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(row);
    size += row.length + 1;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
