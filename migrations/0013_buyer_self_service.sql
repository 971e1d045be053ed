CREATE TYPE "public"."buyer_cancellation_policy" AS ENUM('none', 'full_refund', 'no_refund');--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "buyer_cancellation" "buyer_cancellation_policy" DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "buyer_cancellation_cutoff_minutes" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "attendee_edit_cutoff_minutes" integer;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_self_service_cutoffs" CHECK ("events"."buyer_cancellation_cutoff_minutes" between 0 and 525600 and ("events"."attendee_edit_cutoff_minutes" is null or "events"."attendee_edit_cutoff_minutes" between 0 and 525600));