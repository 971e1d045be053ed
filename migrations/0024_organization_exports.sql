CREATE TYPE "public"."export_format" AS ENUM('json', 'csv');--> statement-breakpoint
CREATE TYPE "public"."export_status" AS ENUM('queued', 'running', 'completed', 'failed');--> statement-breakpoint
CREATE TABLE "organization_exports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"format" "export_format" NOT NULL,
	"status" "export_status" DEFAULT 'queued' NOT NULL,
	"requested_by" uuid,
	"step" integer DEFAULT 0 NOT NULL,
	"state" jsonb DEFAULT '{"entity":0,"cursor":null,"entityRows":0,"upload":null}'::jsonb NOT NULL,
	"entities_done" integer DEFAULT 0 NOT NULL,
	"rows_written" integer DEFAULT 0 NOT NULL,
	"files" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"size_bytes" bigint,
	"error" text,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organization_exports_progress" CHECK ("organization_exports"."entities_done" >= 0 and "organization_exports"."rows_written" >= 0)
);
--> statement-breakpoint
ALTER TABLE "organization_exports" ADD CONSTRAINT "organization_exports_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "organization_exports" ADD CONSTRAINT "organization_exports_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "organization_exports_organization_id_created_at_idx" ON "organization_exports" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "organization_exports_one_active_key" ON "organization_exports" USING btree ("organization_id") WHERE "organization_exports"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "organization_exports_active_updated_at_idx" ON "organization_exports" USING btree ("updated_at") WHERE "organization_exports"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "organization_exports_expires_at_idx" ON "organization_exports" USING btree ("expires_at");