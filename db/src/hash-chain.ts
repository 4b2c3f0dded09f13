import { createHash } from 'node:crypto';
import type pg from 'pg';
import { GENESIS_HASH } from './canonical.js';
import {
  START,
  compareCheckpoints,
  hashEvent,
  toRecorded,
  type Checkpoint,
  type EventStore,
  type RecordedEvent,
} from './event-store.js';

/** Only one sealer at a time extends the seal chain. */
const SEAL_LOCK = 0x5e0a1_0002;

export interface Seal {
  readonly seq: number;
  readonly checkpoint: Checkpoint;
  readonly eventCount: number;
  readonly hash: string;
  readonly prevHash: string;
}

/**
 * Hash of a seal: the previous seal's hash, then `position:hash` of every event in read order
 * after the previous seal. Events are already hashed; the seal pins their global order and
 * membership, which per-stream chains cannot (deleting a stream's last event leaves its chain
 * intact).
 */
function sealHasher(prevHash: string) {
  const h = createHash('sha256').update(prevHash);
  let count = 0;
  return {
    add(e: Pick<RecordedEvent, 'position' | 'hash'>) {
      h.update(`\n${e.position}:${e.hash}`);
      count++;
    },
    get count() {
      return count;
    },
    digest: () => h.digest('hex'),
  };
}

interface SealRow {
  seq: string;
  transaction_id: string;
  position: string;
  event_count: string;
  hash: string;
  prev_hash: string;
}
const toSeal = (r: SealRow): Seal => ({
  seq: Number(r.seq),
  checkpoint: { transactionId: r.transaction_id, position: Number(r.position) },
  eventCount: Number(r.event_count),
  hash: r.hash,
  prevHash: r.prev_hash,
});

async function lastSeal(db: Pick<pg.ClientBase, 'query'>): Promise<Seal | undefined> {
  const res = await db.query<SealRow>(
    `select seq, transaction_id::text as transaction_id, position, event_count, hash, prev_hash
     from chain_seals order by seq desc limit 1`,
  );
  return res.rows[0] && toSeal(res.rows[0]);
}

/**
 * Seal the events readable since the last seal (at most `maxEvents`). Returns the new seal, or
 * undefined when there was nothing new. Called periodically by ingest's sealer.
 */
export async function seal(
  store: EventStore,
  opts: { maxEvents?: number; pageSize?: number } = {},
): Promise<Seal | undefined> {
  const maxEvents = opts.maxEvents ?? 100_000;
  const pageSize = opts.pageSize ?? 5_000;
  const c = await store.pool.connect();
  try {
    await c.query('begin');
    try {
      await c.query('select pg_advisory_xact_lock($1)', [SEAL_LOCK]);
      const prev = await lastSeal(c);
      const hasher = sealHasher(prev?.hash ?? GENESIS_HASH);
      let cp = prev?.checkpoint ?? START;
      while (hasher.count < maxEvents) {
        const page = await store.readAll(cp, Math.min(pageSize, maxEvents - hasher.count), c);
        for (const e of page.events) hasher.add(e);
        cp = page.checkpoint;
        if (page.events.length === 0) break;
      }
      if (hasher.count === 0) {
        await c.query('rollback');
        return undefined;
      }
      const res = await c.query<SealRow>(
        `insert into chain_seals (transaction_id, position, event_count, hash, prev_hash)
         values ($1::xid8, $2, $3, $4, $5)
         returning seq, transaction_id::text as transaction_id, position, event_count, hash, prev_hash`,
        [cp.transactionId, cp.position, hasher.count, hasher.digest(), prev?.hash ?? GENESIS_HASH],
      );
      await c.query('commit');
      return toSeal(res.rows[0]!);
    } catch (err) {
      await c.query('rollback').catch(() => undefined);
      throw err;
    }
  } finally {
    c.release();
  }
}

export type VerifyResult =
  | { readonly ok: true; readonly events: number; readonly seals: number }
  | {
      readonly ok: false;
      /** The first position whose stored content no longer matches the chain. */
      readonly position: number;
      readonly stream?: string;
      readonly reason: string;
    };

interface Broken {
  position: number;
  stream?: string;
  reason: string;
}

/**
 * Check the whole log: every event's hash against its content and its stream predecessor, each
 * stream head against its last event, and every seal against the events it covers. Reports the
 * lowest position the chains prove broken; when the chains are intact but a seal is not (whole
 * events removed or reordered), the first event of that seal's range.
 */
export async function verify(
  store: EventStore,
  opts: { pageSize?: number } = {},
): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 5_000;
  const broken: Broken[] = [];
  const tails = new Map<string, { version: number; hash: string; position: number }>();
  let events = 0;

  // 1. Per-stream chains, in position order (which within a stream is version order).
  let after = 0;
  scan: for (;;) {
    const res = await store.pool.query(
      `select position, stream, stream_version, event_id, type, data, metadata, schema_version,
              recorded_at, transaction_id::text as transaction_id, hash, prev_hash
       from events where position > $1 order by position limit $2`,
      [after, pageSize],
    );
    if (res.rows.length === 0) break;
    for (const row of res.rows) {
      const e = toRecorded(row);
      events++;
      after = e.position;
      const tail = tails.get(e.stream);
      const expectVersion = (tail?.version ?? 0) + 1;
      if (e.streamVersion !== expectVersion) {
        broken.push({
          position: e.position,
          stream: e.stream,
          reason: `stream version ${e.streamVersion} follows ${expectVersion - 1}: an event is missing`,
        });
        break scan;
      }
      if (e.prevHash !== (tail?.hash ?? GENESIS_HASH)) {
        // The predecessor's content or hash was changed after this event recorded it.
        broken.push({
          position: tail?.position ?? e.position,
          stream: e.stream,
          reason: `the hash of this event no longer matches the one its successor at position ${e.position} recorded`,
        });
        break scan;
      }
      if (hashEvent(e.prevHash, e) !== e.hash) {
        broken.push({
          position: e.position,
          stream: e.stream,
          reason: 'content does not match its hash',
        });
        break scan;
      }
      tails.set(e.stream, { version: e.streamVersion, hash: e.hash, position: e.position });
    }
  }

  // 2. Stream heads: a removed last event leaves a head that points past the chain.
  if (broken.length === 0) {
    const res = await store.pool.query<{ stream: string; version: string; last_hash: string }>(
      'select stream, version, last_hash from streams',
    );
    for (const r of res.rows) {
      const tail = tails.get(r.stream);
      if (
        Number(r.version) !== (tail?.version ?? 0) ||
        r.last_hash !== (tail?.hash ?? GENESIS_HASH)
      ) {
        broken.push({
          position: (tail?.position ?? 0) + 1,
          stream: r.stream,
          reason: `stream head says version ${r.version}, the log ends at ${tail?.version ?? 0}`,
        });
      }
    }
  }

  // 3. Seals: recompute each over the events it covers, in read order. They only name a range,
  //    so a precise finding of the chains above is reported in preference.
  const seals = (
    await store.pool.query<SealRow>(
      `select seq, transaction_id::text as transaction_id, position, event_count, hash, prev_hash
       from chain_seals order by seq`,
    )
  ).rows.map(toSeal);
  let cp = START;
  let prevHash = GENESIS_HASH;
  for (const s of seals) {
    const hasher = sealHasher(prevHash);
    let first: number | undefined;
    while (compareCheckpoints(cp, s.checkpoint) < 0) {
      const res = await store.pool.query(
        `select position, hash, transaction_id::text as transaction_id from events
         where (transaction_id, position) > ($1::xid8, $2::bigint)
           and (transaction_id, position) <= ($3::xid8, $4::bigint)
         order by events.transaction_id, events.position limit $5`,
        [
          cp.transactionId,
          cp.position,
          s.checkpoint.transactionId,
          s.checkpoint.position,
          pageSize,
        ],
      );
      if (res.rows.length === 0) break;
      for (const r of res.rows as { position: string; hash: string; transaction_id: string }[]) {
        first ??= Number(r.position);
        hasher.add({ position: Number(r.position), hash: r.hash });
        cp = { transactionId: r.transaction_id, position: Number(r.position) };
      }
    }
    cp = s.checkpoint;
    if (s.prevHash !== prevHash || hasher.count !== s.eventCount || hasher.digest() !== s.hash) {
      if (broken.length > 0) break;
      broken.push({
        position: first ?? s.checkpoint.position,
        reason: `seal ${s.seq} (up to position ${s.checkpoint.position}) no longer matches the events it covers`,
      });
      break;
    }
    prevHash = s.hash;
  }

  if (broken.length === 0) return { ok: true, events, seals: seals.length };
  const worst = broken.reduce((a, b) => (b.position < a.position ? b : a));
  return { ok: false, ...worst };
}
