CREATE TYPE "public"."file_kind" AS ENUM('logo', 'cover');--> statement-breakpoint
CREATE TABLE "files" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"kind" "file_kind" NOT NULL,
	"event_id" uuid,
	"slot" text NOT NULL,
	"object_key" text NOT NULL,
	"content_type" text NOT NULL,
	"size_bytes" integer NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"etag" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "files_cover_has_event" CHECK (("files"."kind" = 'cover') = ("files"."event_id" is not null)),
	CONSTRAINT "files_size_positive" CHECK ("files"."size_bytes" > 0),
	CONSTRAINT "files_slot_matches" CHECK ("files"."slot" = (case when "files"."kind" = 'logo' then 'logo' else 'cover:' || "files"."event_id"::text end))
);
--> statement-breakpoint
ALTER TABLE "files" ADD CONSTRAINT "files_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "files" ADD CONSTRAINT "files_organization_id_event_id_events_organization_id_id_fk" FOREIGN KEY ("organization_id","event_id") REFERENCES "public"."events"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "files_slot_idx" ON "files" USING btree ("organization_id","slot");--> statement-breakpoint
CREATE INDEX "files_organization_idx" ON "files" USING btree ("organization_id","size_bytes");--> statement-breakpoint
CREATE INDEX "files_event_idx" ON "files" USING btree ("organization_id","event_id");