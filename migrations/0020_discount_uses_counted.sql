ALTER TABLE "discount_codes" DROP CONSTRAINT "discount_codes_uses";--> statement-breakpoint
CREATE INDEX "bookings_discount_code_active_idx" ON "bookings" USING btree ("organization_id","discount_code_id","buyer_email") WHERE "bookings"."discount_code_id" is not null and "bookings"."status" in ('pending', 'confirmed');--> statement-breakpoint
ALTER TABLE "discount_codes" DROP COLUMN "uses";