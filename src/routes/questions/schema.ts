import { z } from '@hono/zod-openapi';
import { QUESTION_LEVELS, QUESTION_TYPES } from '../../db/schema/questions.ts';
import { AnswersSchema, MAX_CHOICES } from '../bookings/schema.ts';
import { int32, storedLine, Timestamp, Uuid } from '../fields.ts';
import { MAX_QUESTIONS_PER_EVENT } from '../../services/questions/manage.ts';

const MAX_LABEL_LENGTH = 200;
const MAX_OPTION_LENGTH = 200;
const MAX_BOUND = 1_000_000_000;
const EXAMPLE_EVENT_ID = '3d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d';
const EXAMPLE_QUESTION_ID = '6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d';

export const QuestionKey = z
  .string()
  .max(40)
  .regex(/^[a-z][a-z0-9_]{0,39}$/, 'A key is a lowercase letter then up to 39 lowercase letters, digits or _.')
  .openapi({ description: 'The stable slug answers are stored under.', example: 'tshirt' });
const Label = z.string().trim().min(1).max(MAX_LABEL_LENGTH).openapi({ example: 'T-shirt size' });
const Options = z
  .array(z.string().trim().min(1).max(MAX_OPTION_LENGTH))
  .max(MAX_CHOICES)
  .refine((options) => new Set(options).size === options.length, 'Options must be distinct.')
  .openapi({
    description: 'The options of a choice or multi_choice question (required for them, empty for other types).',
    example: ['S', 'M', 'L'],
  });
const Bound = int32(-MAX_BOUND, MAX_BOUND)
  .nullable()
  .openapi({ description: 'Length bound (text), value bound (number) or number of choices (multi_choice).' });
const Position = int32(0, 10_000).openapi({ description: 'Order on the event page (then by key).' });

export const QuestionSchema = z
  .object({
    id: Uuid,
    eventId: Uuid,
    ticketTypeId: Uuid.nullable().openapi({ description: 'Asked only for tickets of this type; null: every ticket.' }),
    key: QuestionKey,
    label: storedLine(MAX_LABEL_LENGTH),
    type: z.enum(QUESTION_TYPES),
    level: z.enum(QUESTION_LEVELS),
    required: z.boolean(),
    options: z.array(storedLine(MAX_OPTION_LENGTH)).max(MAX_CHOICES),
    minimum: Bound,
    maximum: Bound,
    position: Position,
    archived: z.boolean().openapi({ description: 'An archived question is no longer asked nor accepted.' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Question', { description: 'A question buyers answer at checkout.' });

export const EXAMPLE_QUESTION = {
  id: EXAMPLE_QUESTION_ID,
  eventId: EXAMPLE_EVENT_ID,
  ticketTypeId: null,
  key: 'tshirt',
  label: 'T-shirt size',
  type: 'choice' as const,
  level: 'attendee' as const,
  required: true,
  options: ['S', 'M', 'L'],
  minimum: null,
  maximum: null,
  position: 0,
  archived: false,
  createdAt: '2026-05-01T10:00:00.000Z',
  updatedAt: '2026-05-01T10:00:00.000Z',
};

export const QuestionListSchema = z
  .object({ data: z.array(QuestionSchema).max(MAX_QUESTIONS_PER_EVENT) })
  .openapi('QuestionList');

export const CreateQuestionSchema = z
  .object({
    key: QuestionKey,
    label: Label,
    type: z.enum(QUESTION_TYPES).openapi({ description: 'Fixed once created.' }),
    level: z
      .enum(QUESTION_LEVELS)
      .optional()
      .openapi({ description: 'attendee (default): asked per ticket; booking: once per booking.' }),
    ticketTypeId: Uuid.nullable()
      .optional()
      .openapi({ description: 'Ask only for tickets of this ticket type (attendee questions).' }),
    required: z.boolean().optional(),
    options: Options.optional(),
    minimum: Bound.optional(),
    maximum: Bound.optional(),
    position: Position.optional(),
  })
  .strict()
  .openapi('CreateQuestion');

export const UpdateQuestionSchema = z
  .object({
    label: Label.optional(),
    required: z.boolean().optional(),
    options: Options.optional(),
    minimum: Bound.optional(),
    maximum: Bound.optional(),
    position: Position.optional(),
    archived: z.boolean().optional(),
  })
  .strict()
  .openapi('UpdateQuestion');

export const EventQuestionsParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The event id.', example: EXAMPLE_EVENT_ID }),
});

export const QuestionParamsSchema = EventQuestionsParamsSchema.extend({
  questionId: Uuid.openapi({
    param: { name: 'questionId', in: 'path' },
    description: 'The question id.',
    example: EXAMPLE_QUESTION_ID,
  }),
});

export const AttendeeAnswersParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The booking id.' }),
  attendeeId: Uuid.openapi({ param: { name: 'attendeeId', in: 'path' }, description: 'The attendee (ticket) id.' }),
});

export const UpdateAnswersSchema = z.object({ answers: AnswersSchema }).strict().openapi('UpdateAnswers');
export const AnswersResponseSchema = z.object({ answers: AnswersSchema }).openapi('AttendeeAnswers');
