CREATE TYPE "public"."sso_connection_type" AS ENUM('oidc', 'saml');--> statement-breakpoint
CREATE TABLE "sso_connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"type" "sso_connection_type" NOT NULL,
	"name" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"jit" boolean DEFAULT true NOT NULL,
	"default_role_id" uuid NOT NULL,
	"role_mapping" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"config" jsonb NOT NULL,
	"client_secret_encrypted" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sso_connections_organization_id_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "sso_connections_name_length" CHECK (char_length("sso_connections"."name") between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "user_identities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"subject" text NOT NULL,
	"email" text,
	"last_sign_in_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sso_connections" ADD CONSTRAINT "sso_connections_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sso_connections" ADD CONSTRAINT "sso_connections_organization_id_default_role_id_roles_organization_id_id_fk" FOREIGN KEY ("organization_id","default_role_id") REFERENCES "public"."roles"("organization_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_identities" ADD CONSTRAINT "user_identities_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_identities" ADD CONSTRAINT "user_identities_organization_id_connection_id_sso_connections_organization_id_id_fk" FOREIGN KEY ("organization_id","connection_id") REFERENCES "public"."sso_connections"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_identities" ADD CONSTRAINT "user_identities_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sso_connections_organization_id_created_at_idx" ON "sso_connections" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "user_identities_connection_id_subject_key" ON "user_identities" USING btree ("connection_id","subject");--> statement-breakpoint
CREATE INDEX "user_identities_organization_id_user_id_idx" ON "user_identities" USING btree ("organization_id","user_id");--> statement-breakpoint
-- The owner and admin roles hold every permission: give the existing ones the new `sso:manage`.
UPDATE "roles" SET "permissions" = array_append("permissions", 'sso:manage') WHERE "built_in" AND "key" IN ('owner', 'admin') AND NOT ('sso:manage' = ANY("permissions"));
