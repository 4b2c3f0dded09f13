CREATE TABLE "chain_seals" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"transaction_id" "xid8" NOT NULL,
	"position" bigint NOT NULL,
	"event_count" bigint NOT NULL,
	"hash" text NOT NULL,
	"prev_hash" text NOT NULL,
	"sealed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consumer_checkpoints" (
	"consumer" text PRIMARY KEY NOT NULL,
	"transaction_id" "xid8" NOT NULL,
	"position" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"position" bigserial PRIMARY KEY NOT NULL,
	"stream" text NOT NULL,
	"stream_version" bigint NOT NULL,
	"event_id" uuid NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"metadata" jsonb NOT NULL,
	"schema_version" integer NOT NULL,
	"recorded_at" timestamp with time zone NOT NULL,
	"transaction_id" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"hash" text NOT NULL,
	"prev_hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "projection_snapshots" (
	"projection" text NOT NULL,
	"transaction_id" "xid8" NOT NULL,
	"position" bigint NOT NULL,
	"event_count" bigint NOT NULL,
	"state" jsonb NOT NULL,
	"taken_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projection_snapshots_projection_transaction_id_position_pk" PRIMARY KEY("projection","transaction_id","position")
);
--> statement-breakpoint
CREATE TABLE "resources" (
	"cluster" text NOT NULL,
	"kind" text NOT NULL,
	"namespace" text NOT NULL,
	"name" text NOT NULL,
	"spec" jsonb NOT NULL,
	"resource_version" text,
	"position" bigint NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "resources_cluster_kind_namespace_name_pk" PRIMARY KEY("cluster","kind","namespace","name")
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"stream" text PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL,
	"last_hash" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "events_event_id_key" ON "events" USING btree ("event_id");--> statement-breakpoint
CREATE UNIQUE INDEX "events_stream_version_key" ON "events" USING btree ("stream","stream_version");--> statement-breakpoint
CREATE INDEX "events_transaction_position_idx" ON "events" USING btree ("transaction_id","position");--> statement-breakpoint
CREATE INDEX "events_recorded_at_idx" ON "events" USING btree ("recorded_at");