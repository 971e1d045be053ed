CREATE TABLE "event_series" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"timezone" text NOT NULL,
	"rrule" text NOT NULL,
	"start_local" text NOT NULL,
	"duration_minutes" integer NOT NULL,
	"venue" jsonb,
	"capacity" integer,
	"ticket_types" jsonb NOT NULL,
	"publish" text DEFAULT 'draft' NOT NULL,
	"horizon_days" integer NOT NULL,
	"materialized_until" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_series_organization_id_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "event_series_duration" CHECK ("event_series"."duration_minutes" between 1 and 10080),
	CONSTRAINT "event_series_horizon" CHECK ("event_series"."horizon_days" between 1 and 366),
	CONSTRAINT "event_series_publish" CHECK ("event_series"."publish" in ('draft', 'published'))
);
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "series_id" uuid;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "occurrence_start" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "series_detached" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "event_series" ADD CONSTRAINT "event_series_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "event_series_materialized_until_idx" ON "event_series" USING btree ("materialized_until");--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_organization_id_series_id_event_series_organization_id_id_fk" FOREIGN KEY ("organization_id","series_id") REFERENCES "public"."event_series"("organization_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_organization_id_series_id_occurrence_start_key" UNIQUE("organization_id","series_id","occurrence_start");