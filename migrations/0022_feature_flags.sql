CREATE TABLE "feature_flags" (
	"key" text PRIMARY KEY NOT NULL,
	"description" text NOT NULL,
	"default_value" boolean DEFAULT false NOT NULL,
	"plan_values" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"rollout_percentage" smallint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feature_flags_key_format" CHECK ("feature_flags"."key" ~ '^[a-z][a-z0-9_]{1,62}[a-z0-9]$'),
	CONSTRAINT "feature_flags_description_length" CHECK (char_length("feature_flags"."description") between 1 and 500),
	CONSTRAINT "feature_flags_rollout_range" CHECK ("feature_flags"."rollout_percentage" is null or "feature_flags"."rollout_percentage" between 0 and 100)
);
--> statement-breakpoint
-- hand-written: the plan features become flags, with the values the plan catalogue gave them
-- (src/services/plans/catalogue.ts BUILT_IN_FEATURES / PLANS); ON CONFLICT keeps a platform administrator's changes.
INSERT INTO "feature_flags" ("key", "description", "default_value", "plan_values") VALUES
	('webhooks', 'Webhook endpoints (Standard Webhooks deliveries of the organization events)', false, '{"starter":false,"pro":true,"enterprise":true}'),
	('custom_domains', 'Serving the organization on its own domain names', false, '{"starter":false,"pro":true,"enterprise":true}'),
	('sso', 'Single sign-on for staff', false, '{"starter":false,"pro":false,"enterprise":true}'),
	('custom_roles', 'Creating custom roles (POST /api/v1/roles)', false, '{"starter":false,"pro":true,"enterprise":true}'),
	('exports', 'Exports, such as the audit log export', false, '{"starter":false,"pro":true,"enterprise":true}')
ON CONFLICT ("key") DO NOTHING;
