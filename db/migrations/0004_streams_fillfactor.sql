-- Hand-written. Frozen once committed.
-- Every append moves its stream's head (version, last hash): the streams table is updated as
-- often as events are inserted. With full pages almost none of those updates could stay on the
-- row's page (a HOT update, no index write); ingest's batch statement spent about 11 of its 25 ms
-- there. Leave half of each page free for the next versions of its rows.
ALTER TABLE "streams" SET (fillfactor = 50);
