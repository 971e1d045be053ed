CREATE TABLE "event_questions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"ticket_type_id" uuid,
	"key" text NOT NULL,
	"label" text NOT NULL,
	"type" text NOT NULL,
	"level" text DEFAULT 'attendee' NOT NULL,
	"required" boolean DEFAULT false NOT NULL,
	"options" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"minimum" integer,
	"maximum" integer,
	"position" integer DEFAULT 0 NOT NULL,
	"archived" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_questions_organization_id_event_id_key_key" UNIQUE("organization_id","event_id","key"),
	CONSTRAINT "event_questions_key" CHECK ("event_questions"."key" ~ '^[a-z][a-z0-9_]{0,39}$'),
	CONSTRAINT "event_questions_type" CHECK ("event_questions"."type" in ('text', 'long_text', 'number', 'choice', 'multi_choice', 'checkbox', 'date', 'email', 'phone', 'country')),
	CONSTRAINT "event_questions_level" CHECK ("event_questions"."level" in ('attendee', 'booking')),
	CONSTRAINT "event_questions_booking_scope" CHECK ("event_questions"."level" = 'attendee' or "event_questions"."ticket_type_id" is null),
	CONSTRAINT "event_questions_options" CHECK (case when "event_questions"."type" in ('choice', 'multi_choice') then jsonb_array_length("event_questions"."options") > 0
        else "event_questions"."options" = '[]'::jsonb end),
	CONSTRAINT "event_questions_bounds" CHECK ("event_questions"."minimum" is null or "event_questions"."maximum" is null or "event_questions"."minimum" <= "event_questions"."maximum")
);
--> statement-breakpoint
ALTER TABLE "event_questions" ADD CONSTRAINT "event_questions_organization_id_event_id_events_organization_id_id_fk" FOREIGN KEY ("organization_id","event_id") REFERENCES "public"."events"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_questions" ADD CONSTRAINT "event_questions_ticket_type_fk" FOREIGN KEY ("organization_id","event_id","ticket_type_id") REFERENCES "public"."ticket_types"("organization_id","event_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "event_questions_organization_id_event_id_idx" ON "event_questions" USING btree ("organization_id","event_id","position");