ALTER TABLE "memberships" ADD COLUMN "scim_external_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "memberships_organization_id_scim_external_id_key" ON "memberships" USING btree ("organization_id","scim_external_id");--> statement-breakpoint
-- The owner and admin roles hold every permission: give the existing ones the new `scim:provision`.
UPDATE "roles" SET "permissions" = array_append("permissions", 'scim:provision') WHERE "built_in" AND "key" IN ('owner', 'admin') AND NOT ('scim:provision' = ANY("permissions"));
