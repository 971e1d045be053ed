ALTER TYPE "public"."sso_connection_type" ADD VALUE 'google';--> statement-breakpoint
ALTER TYPE "public"."sso_connection_type" ADD VALUE 'microsoft';--> statement-breakpoint
ALTER TYPE "public"."sso_connection_type" ADD VALUE 'linkedin';