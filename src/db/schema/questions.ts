import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, index, integer, jsonb, pgTable, text, unique, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { events, ticketTypes } from './events.ts';

/** The types of attendee question (issue #18 part 3); the checkout checks each answer against its type in SQL. */
export const QUESTION_TYPES = [
  'text',
  'long_text',
  'number',
  'choice',
  'multi_choice',
  'checkbox',
  'date',
  'email',
  'phone',
  'country',
] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

/** Who answers a question: each attendee (ticket), or the booking once. */
export const QUESTION_LEVELS = ['attendee', 'booking'] as const;
export type QuestionLevel = (typeof QUESTION_LEVELS)[number];

/**
 * A question buyers answer at checkout, per event, optionally only for one ticket type (attendee questions). `key` is
 * the stable slug answers are stored under (attendees.answers / bookings.answers). `minimum`/`maximum` bound the
 * length of text answers, the value of numbers and the number of choices of a multi-choice. An archived question is
 * no longer asked nor accepted; its stored answers stay.
 */
export const eventQuestions = pgTable(
  'event_questions',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    eventId: uuid().notNull(),
    ticketTypeId: uuid(),
    key: text().notNull(),
    label: text().notNull(),
    type: text().$type<QuestionType>().notNull(),
    level: text().$type<QuestionLevel>().notNull().default('attendee'),
    required: boolean().notNull().default(false),
    options: jsonb().$type<string[]>().notNull().default([]),
    minimum: integer(),
    maximum: integer(),
    position: integer().notNull().default(0),
    archived: boolean().notNull().default(false),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.eventId],
      foreignColumns: [events.organizationId, events.id],
    }).onDelete('cascade'),
    foreignKey({
      name: 'event_questions_ticket_type_fk',
      columns: [table.organizationId, table.eventId, table.ticketTypeId],
      foreignColumns: [ticketTypes.organizationId, ticketTypes.eventId, ticketTypes.id],
    }).onDelete('cascade'),
    unique('event_questions_organization_id_event_id_key_key').on(table.organizationId, table.eventId, table.key),
    index('event_questions_organization_id_event_id_idx').on(table.organizationId, table.eventId, table.position),
    check('event_questions_key', sql`${table.key} ~ '^[a-z][a-z0-9_]{0,39}$'`),
    check(
      'event_questions_type',
      sql`${table.type} in ('text', 'long_text', 'number', 'choice', 'multi_choice', 'checkbox', 'date', 'email', 'phone', 'country')`,
    ),
    check('event_questions_level', sql`${table.level} in ('attendee', 'booking')`),
    check('event_questions_booking_scope', sql`${table.level} = 'attendee' or ${table.ticketTypeId} is null`),
    check(
      'event_questions_options',
      sql`case when ${table.type} in ('choice', 'multi_choice') then jsonb_array_length(${table.options}) > 0
        else ${table.options} = '[]'::jsonb end`,
    ),
    check(
      'event_questions_bounds',
      sql`${table.minimum} is null or ${table.maximum} is null or ${table.minimum} <= ${table.maximum}`,
    ),
  ],
);

export type EventQuestion = typeof eventQuestions.$inferSelect;

/**
 * A stored answer: text types (text, long_text, choice, date, email, phone, country) are strings, numbers numbers,
 * checkboxes booleans, multi-choice arrays of strings. Answers stored before questions existed are strings.
 */
export type AnswerValue = string | number | boolean | string[];
export type Answers = Record<string, AnswerValue>;
