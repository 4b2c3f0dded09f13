-- Hand-written. Frozen once committed.
-- The fleet's identity: one random id, made when the store is created and never changed. Shoal
-- names the Temporal workflows of this fleet after it, so that two control planes sharing a
-- Temporal namespace (a test server, a shared dev server, a staging and a production store)
-- never signal or start each other's rollouts. A backup restored into a new database keeps the
-- id, as it keeps the history the id names.
CREATE TABLE "fleet_identity" (
  "singleton" boolean PRIMARY KEY DEFAULT true CHECK ("singleton"),
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "created_at" timestamptz NOT NULL DEFAULT now()
);
--> statement-breakpoint
INSERT INTO "fleet_identity" DEFAULT VALUES;
