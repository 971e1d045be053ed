import { QUESTION_LEVELS, QUESTION_TYPES } from '../../db/schema/questions.ts';
import { z } from '@hono/zod-openapi';
import { MAX_CURSOR_LENGTH } from '../../lib/cursor.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { cursorPage, sortParam } from '../pagination.ts';
import { int32, StoredCurrencyCode, storedLine, Timestamp, Uuid } from '../fields.ts';
import {
  COUNTRY_PATTERN,
  MAX_CATEGORIES,
  MAX_CATEGORY_LENGTH,
  MAX_DESCRIPTION_LENGTH,
  MAX_EVENT_CAPACITY,
  MAX_SLUG_LENGTH,
  MAX_TIMEZONE_LENGTH,
  MAX_TITLE_LENGTH,
  MAX_URL_LENGTH,
  SLUG_PATTERN,
  VENUE_LIMITS,
} from '../events/schema.ts';
import {
  MAX_DESCRIPTION_LENGTH as MAX_TICKET_TYPE_DESCRIPTION_LENGTH,
  MAX_NAME_LENGTH as MAX_TICKET_TYPE_NAME_LENGTH,
  MAX_PER_ORDER,
  MAX_PRICE,
  MAX_QUANTITY,
} from '../ticket-types/schema.ts';
import { MAX_TICKET_TYPES_PER_EVENT } from '../../services/events/ticket-types.ts';

export const DEFAULT_PUBLIC_PAGE_SIZE = 20;
export const MAX_PUBLIC_PAGE_SIZE = 100;

const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';
const EXAMPLE_TICKET_TYPE_ID = '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f';

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

export const PublicVenueSchema = z
  .object({
    name: storedLine(VENUE_LIMITS.name).openapi({ description: 'Name of the venue.', example: 'Main Hall' }),
    address: storedLine(VENUE_LIMITS.address)
      .optional()
      .openapi({ description: 'Street address.', example: '1 Market Street' }),
    city: storedLine(VENUE_LIMITS.city).optional().openapi({ description: 'City.', example: 'Lisbon' }),
    country: z
      .string()
      .max(2)
      .regex(COUNTRY_PATTERN)
      .optional()
      .openapi({ description: 'Country (ISO 3166-1 alpha-2).', example: 'PT' }),
    latitude: z.number().min(-90).max(90).optional().openapi({ description: 'Latitude in degrees.', example: 38.7223 }),
    longitude: z
      .number()
      .min(-180)
      .max(180)
      .optional()
      .openapi({ description: 'Longitude in degrees.', example: -9.1393 }),
  })
  .openapi('PublicVenue', { description: 'Where the event takes place; null for online-only events.' });

export const PriceSummarySchema = z
  .object({
    price: int32(0, MAX_PRICE).openapi({ description: 'Lowest price, integer minor units.', example: 1500 }),
    currency: StoredCurrencyCode.openapi({ description: 'ISO 4217 currency of that price.', example: 'EUR' }),
  })
  .openapi('PriceSummary', {
    description:
      'The lowest price among the ticket types shown without an access code (whatever their sales window); null ' +
      'when there is none.',
  });

const publicEventFields = {
  id: Uuid.openapi({ description: 'The event id.', example: EXAMPLE_EVENT_ID }),
  slug: z.string().max(MAX_SLUG_LENGTH).regex(SLUG_PATTERN).openapi({
    description: 'URL name of the event in this organization.',
    example: 'spring-gala',
  }),
  title: storedLine(MAX_TITLE_LENGTH).openapi({ description: 'Title.', example: 'Spring Gala' }),
  description: z
    .string()
    .max(MAX_DESCRIPTION_LENGTH)
    .openapi({ description: 'Description (plain text).', example: 'An evening of music.' }),
  startsAt: Timestamp.openapi({
    description: 'Start, UTC ISO 8601; present it in `timezone`.',
    example: '2026-05-01T18:00:00.000Z',
  }),
  endsAt: Timestamp.openapi({
    description: 'End, UTC ISO 8601; present it in `timezone`.',
    example: '2026-05-01T23:00:00.000Z',
  }),
  timezone: z
    .string()
    .max(MAX_TIMEZONE_LENGTH)
    .openapi({ description: "The event's IANA timezone.", example: 'Europe/Lisbon' }),
  venue: PublicVenueSchema.nullable(),
  capacity: int32(0, MAX_EVENT_CAPACITY)
    .nullable()
    .openapi({ description: 'Total seats; null when only the ticket types limit sales.', example: 500 }),
  categories: z
    .array(storedLine(MAX_CATEGORY_LENGTH))
    .max(MAX_CATEGORIES)
    .openapi({ description: 'Categories (tags) of the event.', example: ['music', 'gala'] }),
  coverImageUrl: z
    .string()
    .max(MAX_URL_LENGTH)
    .regex(/^https:\/\//)
    .nullable()
    .openapi({ description: 'Cover image URL (https), or null.', example: 'https://cdn.example.com/gala.jpg' }),
  visibility: z.enum(['public', 'unlisted']).openapi({
    description: '`public`: listed in the catalogue; `unlisted`: reachable only by its link.',
    example: 'public',
  }),
  seriesId: Uuid.nullable().openapi({
    description:
      'The recurring series this event is a date of (each date is its own event with its own tickets), or null for ' +
      "a one-off event. List the series' dates with `GET /api/v1/public/events?seriesId=...`.",
    example: null,
  }),
  priceFrom: PriceSummarySchema.nullable(),
};

export const PublicEventSchema = z.object(publicEventFields).openapi('PublicEvent', {
  description: 'An event as anyone may see it. The online join URL is revealed only to ticket holders.',
});

export type PublicEventResponse = z.infer<typeof PublicEventSchema>;

export const PublicEventListSchema = cursorPage(PublicEventSchema, {
  name: 'PublicEventList',
  items: 'This page of events, earliest start first.',
  cursorExample: 'WyIyMDI2LTA1LTAxVDE4OjAwOjAwLjAwMDAwMFoiLCIwYjlmNmE1Mi0xYzNkLTRlNWYtOGE3Yi05YzBkMWUyZjNhNGIiXQ',
});

export type PublicEventListResponse = z.infer<typeof PublicEventListSchema>;

export const PublicTicketTypeSchema = z
  .object({
    id: Uuid.openapi({ description: 'The ticket type id.', example: EXAMPLE_TICKET_TYPE_ID }),
    eventId: Uuid.openapi({ description: 'The event id.', example: EXAMPLE_EVENT_ID }),
    name: storedLine(MAX_TICKET_TYPE_NAME_LENGTH).openapi({ description: 'Name.', example: 'General admission' }),
    description: z
      .string()
      .max(MAX_TICKET_TYPE_DESCRIPTION_LENGTH)
      .openapi({ description: 'Description.', example: 'Standing, doors at 17:30.' }),
    price: int32(0, MAX_PRICE).openapi({ description: 'Price, integer minor units (0: free).', example: 1500 }),
    currency: StoredCurrencyCode.openapi({ description: 'ISO 4217 currency.', example: 'EUR' }),
    remaining: int32(0, MAX_QUANTITY).openapi({
      description: 'Tickets still available (never negative).',
      example: 42,
    }),
    salesStartAt: Timestamp.nullable().openapi({
      description: 'Sales open at this instant (UTC); null: open since publication.',
      example: '2026-03-01T09:00:00.000Z',
    }),
    salesEndAt: Timestamp.nullable().openapi({
      description: 'Sales close at this instant (UTC); null: no set end.',
      example: '2026-05-01T16:00:00.000Z',
    }),
    minPerOrder: int32(1, MAX_PER_ORDER).openapi({
      description: 'Fewest tickets of this type per order.',
      example: 1,
    }),
    maxPerOrder: int32(1, MAX_PER_ORDER).openapi({ description: 'Most tickets of this type per order.', example: 10 }),
    hidden: z.boolean().openapi({
      description: 'True for a ticket type shown only because the request carried its access code.',
      example: false,
    }),
    onSale: z.boolean().openapi({
      description: 'Whether it can be bought now: the event is published, now is in the sales window, remaining > 0.',
      example: true,
    }),
  })
  .openapi('PublicTicketType', { description: 'A ticket type as buyers see it. Never carries counts or codes.' });

export type PublicTicketTypeResponse = z.infer<typeof PublicTicketTypeSchema>;

// Attendee questions on the event page (issue #18 part 3).
const MAX_PUBLIC_QUESTIONS = 50;
const PublicQuestionSchema = z
  .object({
    key: z
      .string()
      .max(40)
      .regex(/^[a-z][a-z0-9_]{0,39}$/)
      .openapi({ example: 'tshirt' }),
    label: z.string().max(200).openapi({ example: 'T-shirt size' }),
    type: z.enum(QUESTION_TYPES),
    level: z.enum(QUESTION_LEVELS),
    ticketTypeId: z.uuid().max(36).nullable(),
    required: z.boolean(),
    options: z
      .array(z.string().max(200))
      .max(50)
      .openapi({ example: ['S', 'M', 'L'] }),
    minimum: z.int().min(-1_000_000_000).max(1_000_000_000).nullable().openapi({ format: 'int32' }),
    maximum: z.int().min(-1_000_000_000).max(1_000_000_000).nullable().openapi({ format: 'int32' }),
  })
  .openapi('PublicQuestion', { description: 'A question buyers answer at checkout.' });

export const PublicEventDetailSchema = z
  .object({
    ...publicEventFields,
    status: z.enum(['published', 'cancelled', 'completed']).openapi({
      description:
        '`published`: on sale per ticket type; `cancelled` or `completed`: still shown so buyers learn it, with no ' +
        'ticket types.',
      example: 'published',
    }),
    ticketTypes: z
      .array(PublicTicketTypeSchema)
      .max(MAX_TICKET_TYPES_PER_EVENT)
      .openapi({
        description:
          'Ticket types in display order: those not hidden, plus hidden ones unlocked by `accessCode` (an event ' +
          `has at most ${MAX_TICKET_TYPES_PER_EVENT}).`,
      }),
    questions: z
      .array(PublicQuestionSchema)
      .max(MAX_PUBLIC_QUESTIONS)
      .openapi({
        description:
          'The questions the checkout asks (issue #18 part 3), by position: `level: attendee` ones per ticket (all ' +
          'tickets, or only those of `ticketTypeId`), `level: booking` ones once in `answers`. Archived questions ' +
          'and those of hidden ticket types not unlocked are not listed.',
      }),
  })
  .openapi('PublicEventDetail', { description: 'An event page with its ticket types and questions.' });

export type PublicEventDetailResponse = z.infer<typeof PublicEventDetailSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const PublicEventListQuerySchema = z
  .object({
    from: Timestamp.optional().openapi({
      param: { name: 'from', in: 'query' },
      description:
        'Only events starting at or after this ISO 8601 instant. Without it, only events that have not ended yet.',
      example: '2026-05-01T00:00:00Z',
    }),
    to: Timestamp.optional().openapi({
      param: { name: 'to', in: 'query' },
      description: 'Only events starting before this ISO 8601 instant (exclusive).',
      example: '2026-06-01T00:00:00Z',
    }),
    category: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
      .optional()
      .openapi({
        param: { name: 'category', in: 'query' },
        description: 'Only events with this category (exact, case-sensitive; one value).',
        example: 'music',
      }),
    q: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
      .optional()
      .openapi({
        param: { name: 'q', in: 'query' },
        description: 'Case-insensitive text anywhere in the title (`%` and `_` match themselves).',
        example: 'gala',
      }),
    seriesId: Uuid.optional().openapi({
      param: { name: 'seriesId', in: 'query' },
      description: 'Only the dates of this recurring series (an unknown series lists nothing).',
      example: '3c9d2f4e-8b1a-4d6e-9f0a-2b3c4d5e6f70',
    }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PUBLIC_PAGE_SIZE)
      .default(DEFAULT_PUBLIC_PAGE_SIZE)
      .openapi({
        param: { name: 'limit', in: 'query' },
        format: 'int32',
        description: `Page size, 1 to ${MAX_PUBLIC_PAGE_SIZE} (default ${DEFAULT_PUBLIC_PAGE_SIZE}). Values outside the range answer 400.`,
        example: 20,
      }),
    cursor: z
      .string()
      .max(MAX_CURSOR_LENGTH)
      .optional()
      .openapi({
        param: { name: 'cursor', in: 'query' },
        description: 'The `nextCursor` of the previous page, unchanged (opaque). A malformed cursor answers 400.',
        example: 'WyIyMDI2LTA1LTAxVDE4OjAwOjAwLjAwMDAwMFoiLCIwYjlmNmE1Mi0xYzNkLTRlNWYtOGE3Yi05YzBkMWUyZjNhNGIiXQ',
      }),
    sort: sortParam(['startsAt', '-startsAt'] as const, 'Order of the events by start.'),
  })
  // Only these filters exist: any other query parameter (status, organizationId, ...) answers 400.
  .strict()
  .refine(
    (query) => query.from === undefined || query.to === undefined || Date.parse(query.from) < Date.parse(query.to),
    {
      message: '`from` must be before `to`.',
      path: ['to'],
    },
  );

export const PublicEventParamsSchema = z.object({
  slug: z
    .string()
    .max(MAX_SLUG_LENGTH)
    .regex(SLUG_PATTERN, 'Must be an event slug.')
    .openapi({ param: { name: 'slug', in: 'path' }, description: 'The event slug.', example: 'spring-gala' }),
});

export const PublicEventQuerySchema = z
  .object({
    accessCode: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({
        param: { name: 'accessCode', in: 'query' },
        description:
          'Shows the hidden ticket types with this access code too. A code that matches nothing shows nothing more.',
        example: 'EARLYBIRD',
      }),
  })
  .strict();
