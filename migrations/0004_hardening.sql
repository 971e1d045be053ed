ALTER TABLE "payment_settings" ALTER COLUMN "manual_enabled" SET DEFAULT false;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "session_expires_at" timestamp with time zone DEFAULT now() + interval '30 days' NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_logs" ADD COLUMN "correlation_id" text;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "client_key" text;--> statement-breakpoint
CREATE INDEX "bookings_pending_client_key_idx" ON "bookings" USING btree ("organization_id","event_id","client_key") WHERE "bookings"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "bookings_pending_buyer_email_idx" ON "bookings" USING btree ("organization_id","event_id","buyer_email") WHERE "bookings"."status" = 'pending';