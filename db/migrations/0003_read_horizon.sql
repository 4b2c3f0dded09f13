-- Hand-written. Frozen once committed.
-- The safe read horizon, per database. Readers follow the log in (transaction id, position)
-- order and may only pass rows no open transaction can still sort before. The first horizon was
-- pg_snapshot_xmin(pg_current_snapshot()): the oldest transaction open anywhere on the server,
-- so one idle-in-transaction session in another database stopped every reader of this one.
-- This horizon counts only the transactions that append to THIS store: those holding a write
-- lock (RowShareLock from SELECT ... FOR UPDATE, RowExclusiveLock from INSERT/UPDATE) on
-- "events" or "streams" here. It is the smallest of their transaction ids that is still in
-- progress, or the snapshot's xmax when there is none.
--
-- Why it is safe (the store's append rule: an append transaction writes nothing before it
-- locks "streams" or "events", so it holds that lock before it has a transaction id):
-- call H the result, S1 this statement's snapshot, and S2 the snapshot of a LATER statement that
-- reads rows below H. A row invisible to S2 belongs to a transaction T still open at S2 (or
-- aborted). If T's id is >= xmax(S1), it is >= H. Otherwise T had its id before S1, so by the
-- rule it held its lock before S1 and still holds it while pg_locks is read below, and T is in
-- S1's in-progress list: H <= T's id. Either way no row below H can appear later.
-- The horizon must come from an earlier statement than the read (read it, then query).
CREATE FUNCTION shoal_read_horizon() RETURNS xid8
LANGUAGE sql VOLATILE AS $$
  WITH snap AS (SELECT pg_current_snapshot() AS s),
  appenders AS (
    SELECT DISTINCT l.pid FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.relation IN ('events'::regclass, 'streams'::regclass)
      AND l.mode IN ('RowShareLock', 'RowExclusiveLock')
  ),
  -- Every transaction holds an exclusive lock on its own (32-bit) transaction id.
  own_xids AS (
    SELECT l.transactionid::text::bigint AS xid32 FROM pg_locks l JOIN appenders a USING (pid)
    WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
  )
  SELECT coalesce(
    (SELECT min(x) FROM pg_snapshot_xip(snap.s) AS x
     WHERE (x::text::numeric % 4294967296)::bigint IN (SELECT xid32 FROM own_xids)),
    pg_snapshot_xmax(snap.s))
  FROM snap
$$;
