-- Hand-written (drizzle-kit cannot express triggers). Frozen once committed.
-- 1. Wake subscribers: one NOTIFY per inserting statement, delivered by PostgreSQL at COMMIT
--    (and never for a rolled-back transaction). The payload is empty on purpose: readers re-read
--    from their checkpoint, so a notification only says "look again".
CREATE FUNCTION shoal_notify_events_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('shoal_events_appended', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER events_notify_appended
AFTER INSERT ON "events"
FOR EACH STATEMENT EXECUTE FUNCTION shoal_notify_events_appended();
--> statement-breakpoint
-- 2. The log is append-only. A superuser can still disable this trigger; the hash chain and
--    verify() are what make such tampering visible.
CREATE FUNCTION shoal_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the events table is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER events_append_only
BEFORE UPDATE OR DELETE ON "events"
FOR EACH ROW EXECUTE FUNCTION shoal_events_append_only();
--> statement-breakpoint
CREATE TRIGGER events_no_truncate
BEFORE TRUNCATE ON "events"
FOR EACH STATEMENT EXECUTE FUNCTION shoal_events_append_only();
