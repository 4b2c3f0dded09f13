import type pg from 'pg';
import {
  compareCheckpoints,
  readHorizon,
  type Checkpoint,
  type EventStore,
  type JsonObject,
} from '@shoal/db';
import { foldInto, resourceKey, type DesiredState, type ResourceRecord } from './evolve.js';

export const PROJECTION = 'resources';

export type StateAtTarget = { readonly position: number } | { readonly timestamp: Date };

export interface StateAt {
  /** The point of the log the state is at (undefined: before the first event). */
  readonly checkpoint: Checkpoint | undefined;
  readonly state: DesiredState;
  /** Events replayed on top of the snapshot (for observability and the benchmark). */
  readonly replayed: number;
}

type Queryable = Pick<pg.Pool, 'query'>;

/**
 * The log point of a target: for a position, that event; for a timestamp, the last event
 * recorded at or before it. The state "at" it is the fold of every event up to that point in
 * read order (transaction id, position), which is the order projections apply events in.
 */
async function resolveTarget(
  db: Queryable,
  target: StateAtTarget,
): Promise<Checkpoint | undefined> {
  const res =
    'position' in target
      ? await db.query<{ transaction_id: string; position: string }>(
          `select transaction_id::text as transaction_id, position from events
           where position <= $1 order by position desc limit 1`,
          [target.position],
        )
      : await db.query<{ transaction_id: string; position: string }>(
          `select transaction_id::text as transaction_id, position from events
           where recorded_at <= $1 order by recorded_at desc, position desc limit 1`,
          [target.timestamp],
        );
  const r = res.rows[0];
  return r && { transactionId: r.transaction_id, position: Number(r.position) };
}

/**
 * Desired state at a past position or time: the nearest snapshot at or before it, plus the
 * events after the snapshot up to the target. Only events below the safe read horizon count, so
 * the answer for a point never changes once given.
 */
export async function stateAt(
  store: EventStore,
  target: StateAtTarget,
  opts: { pageSize?: number } = {},
): Promise<StateAt> {
  const db = store.pool;
  const point = await resolveTarget(db, target);
  const state: DesiredState = new Map();
  if (!point) return { checkpoint: undefined, state, replayed: 0 };
  const snap = await db.query<{
    transaction_id: string;
    position: string;
    state: ResourceRecord[];
  }>(
    `select transaction_id::text as transaction_id, position, state from projection_snapshots
     where projection = $1 and (transaction_id, position) <= ($2::xid8, $3::bigint)
     order by projection_snapshots.transaction_id desc, projection_snapshots.position desc limit 1`,
    [PROJECTION, point.transactionId, point.position],
  );
  let cp: Checkpoint = { transactionId: '0', position: 0 };
  const s = snap.rows[0];
  if (s) {
    for (const r of s.state) state.set(resourceKey(r), r);
    cp = { transactionId: s.transaction_id, position: Number(s.position) };
  }
  let replayed = 0;
  const pageSize = opts.pageSize ?? 5_000;
  while (compareCheckpoints(cp, point) < 0) {
    const res = await db.query<{
      transaction_id: string;
      position: string;
      type: string;
      data: JsonObject;
      recorded_at: Date;
    }>(
      `select transaction_id::text as transaction_id, position, type, data, recorded_at from events
       where (transaction_id, position) > ($1::xid8, $2::bigint)
         and (transaction_id, position) <= ($3::xid8, $4::bigint)
         and transaction_id < $6::xid8
       order by events.transaction_id, events.position limit $5`,
      [
        cp.transactionId,
        cp.position,
        point.transactionId,
        point.position,
        pageSize,
        await readHorizon(db),
      ],
    );
    if (res.rows.length === 0) break;
    foldInto(
      state,
      res.rows.map((r) => ({
        type: r.type,
        data: r.data,
        position: Number(r.position),
        recordedAt: r.recorded_at,
      })),
    );
    replayed += res.rows.length;
    const last = res.rows.at(-1)!;
    cp = { transactionId: last.transaction_id, position: Number(last.position) };
  }
  return { checkpoint: point, state, replayed };
}
