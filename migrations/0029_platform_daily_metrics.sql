CREATE TABLE "platform_daily_metrics" (
	"day" date NOT NULL,
	"metric" text NOT NULL,
	"dimension" text DEFAULT '' NOT NULL,
	"value" bigint NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "platform_daily_metrics_day_metric_dimension_pk" PRIMARY KEY("day","metric","dimension")
);
--> statement-breakpoint
CREATE INDEX "users_created_at_idx" ON "users" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "refresh_tokens_created_at_brin" ON "refresh_tokens" USING brin ("created_at");--> statement-breakpoint
CREATE INDEX "events_published_at_idx" ON "events" USING btree ("published_at") WHERE "events"."published_at" is not null;--> statement-breakpoint
CREATE INDEX "bookings_confirmed_at_idx" ON "bookings" USING btree ("confirmed_at") WHERE "bookings"."confirmed_at" is not null;--> statement-breakpoint
CREATE INDEX "refunds_succeeded_updated_at_idx" ON "refunds" USING btree ("updated_at") WHERE "refunds"."status" = 'succeeded';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_finished_updated_at_idx" ON "webhook_deliveries" USING btree ("updated_at") WHERE "webhook_deliveries"."status" in ('succeeded', 'failed');--> statement-breakpoint
CREATE INDEX "usage_daily_day_brin" ON "usage_daily" USING brin ("day");