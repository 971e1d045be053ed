import { z } from '@hono/zod-openapi';
import { MAX_TRANSFER_CUTOFF_MINUTES } from '../../db/schema/events.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { int32, isTimeZone, storedLine, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams, sortParam } from '../pagination.ts';

/** The orders of the event list; the first is the default. */
export const EVENT_SORTS = ['startsAt', '-startsAt', 'createdAt', '-createdAt'] as const;

export const EVENT_STATUSES = ['draft', 'published', 'cancelled', 'completed'] as const;
/** Buyer self-service: whether and how a buyer may cancel their own booking. */
export const BUYER_CANCELLATION_POLICIES = ['none', 'full_refund', 'no_refund'] as const;
/** The longest self-service cutoff: 365 days, in minutes. */
export const MAX_SELF_SERVICE_CUTOFF_MINUTES = 525_600;

const selfServiceFields = {
  buyerCancellation: z.enum(BUYER_CANCELLATION_POLICIES).openapi({
    description:
      'Whether the buyer may cancel their own booking (POST /api/v1/public/bookings/{id}/cancel): `none` (not ' +
      'offered; the default), `full_refund` (cancel and get back what was paid: through Stripe automatically; a ' +
      'manual payment is returned by the organizer outside Eventra), `no_refund` (cancel to free the seats, no ' +
      'money back).',
    example: 'full_refund',
  }),
  buyerCancellationCutoffMinutes: int32(0, MAX_SELF_SERVICE_CUTOFF_MINUTES).openapi({
    description:
      'Buyer cancellation closes this many minutes before the start (0: until the start; default 0; at most ' +
      '525,600, a year).',
    example: 2880,
  }),
  attendeeEditCutoffMinutes: int32(0, MAX_SELF_SERVICE_CUTOFF_MINUTES)
    .nullable()
    .openapi({
      description:
        'The buyer may rename the tickets of their booking (PATCH /api/v1/public/bookings/{id}/attendees/' +
        '{attendeeId}) until this many minutes before the start; null (the default): not editable by the buyer.',
      example: 60,
    }),
};
export const EVENT_VISIBILITIES = ['public', 'unlisted', 'private'] as const;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const EXAMPLE_EVENT_ID = '3d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d';
/** An event slug: 1 to 100 lowercase letters, digits and inner hyphens (the events_slug_format CHECK). */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$/;
export const MAX_SLUG_LENGTH = 100;
export const MAX_TITLE_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 20_000;
export const MAX_TIMEZONE_LENGTH = 64;
export const MAX_URL_LENGTH = 2048;
export const MAX_CATEGORIES = 10;
export const MAX_CATEGORY_LENGTH = 40;
export const MAX_EVENT_CAPACITY = 10_000_000;
export const VENUE_LIMITS = { name: 200, address: 300, city: 100 } as const;
export const COUNTRY_PATTERN = /^[A-Z]{2}$/;
// Timestamps PostgreSQL and the list cursor both handle: from 1970 to the year 9999.
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);

/** An ISO 8601 instant with `Z` or an offset, returned as a Date (stored and shown in UTC). */
export const instant = () =>
  Timestamp.transform((text) => new Date(text)).refine(
    (date) => date.getTime() >= EARLIEST && date.getTime() <= LATEST,
    'Must be between 1970 and 9999.',
  );

/**
 * An https URL with a domain name as its host (no IP address, no `localhost`), at most 2,048 characters. The
 * document shows the `https://` prefix as a pattern; the host rule is in the field's description.
 */
export const httpsUrl = () =>
  z
    .url({ protocol: /^https$/, hostname: z.regexes.domain })
    .max(MAX_URL_LENGTH)
    .regex(/^https:\/\//, 'Must be an https URL.');

/** A stored https URL as responses show it: the input was checked by `httpsUrl()` and is returned unchanged. */
const storedUrl = () =>
  z
    .string()
    .max(MAX_URL_LENGTH)
    .regex(/^https:\/\//);

const singleLine = (max: number) =>
  z.string().trim().min(1).max(max).regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.');

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

export const VenueSchema = z
  .object({
    name: singleLine(VENUE_LIMITS.name).openapi({ description: 'Name of the place.', example: 'Kulturhaus Nord' }),
    address: singleLine(VENUE_LIMITS.address)
      .optional()
      .openapi({ description: 'Street address.', example: 'Hafenstraße 12' }),
    city: singleLine(VENUE_LIMITS.city).optional().openapi({ description: 'City.', example: 'Hamburg' }),
    country: z
      .string()
      .max(2)
      .regex(COUNTRY_PATTERN, 'Must be an ISO 3166-1 alpha-2 country code.')
      .optional()
      .openapi({ description: 'ISO 3166-1 alpha-2 country code.', example: 'DE' }),
    latitude: z.number().min(-90).max(90).optional().openapi({ description: 'Latitude, -90..90.', example: 53.5453 }),
    longitude: z
      .number()
      .min(-180)
      .max(180)
      .optional()
      .openapi({ description: 'Longitude, -180..180.', example: 9.9666 }),
  })
  .strict()
  .openapi('Venue', { description: 'Where the event takes place.' });

export const EventSchema = z
  .object({
    id: Uuid.openapi({ description: 'Event id.', example: EXAMPLE_EVENT_ID }),
    slug: z.string().max(MAX_SLUG_LENGTH).regex(SLUG_PATTERN).openapi({
      description: 'URL slug, unique in the organization.',
      example: 'summer-jazz-night',
    }),
    title: storedLine(MAX_TITLE_LENGTH).openapi({ description: 'Title.', example: 'Summer Jazz Night' }),
    description: z
      .string()
      .max(MAX_DESCRIPTION_LENGTH)
      .openapi({ description: 'Description (plain text or Markdown).', example: 'Live jazz.' }),
    status: z.enum(EVENT_STATUSES).openapi({
      description: 'Lifecycle: `draft` -> `published` -> `cancelled` | `completed`; drafts may also be cancelled.',
      example: 'draft',
    }),
    visibility: z.enum(EVENT_VISIBILITIES).openapi({
      description: '`public`: listed in the catalogue; `unlisted`: only by link; `private`: not shown publicly.',
      example: 'public',
    }),
    timezone: z
      .string()
      .max(MAX_TIMEZONE_LENGTH)
      .openapi({ description: 'IANA timezone to present local times in.', example: 'Europe/Berlin' }),
    startsAt: Timestamp.openapi({ description: 'Start, ISO 8601 UTC.', example: '2026-07-04T18:00:00.000Z' }),
    endsAt: Timestamp.openapi({ description: 'End, ISO 8601 UTC.', example: '2026-07-04T22:00:00.000Z' }),
    venue: VenueSchema.nullable().openapi({ description: 'The venue; null for an online-only event.' }),
    onlineUrl: storedUrl().nullable().openapi({
      description: 'Join URL of an online event (shown to staff here; to the public only to ticket holders).',
      example: 'https://meet.example.com/jazz',
    }),
    categories: z
      .array(storedLine(MAX_CATEGORY_LENGTH))
      .max(MAX_CATEGORIES)
      .openapi({ description: 'Categories or tags.', example: ['music', 'jazz'] }),
    coverImageUrl: storedUrl()
      .nullable()
      .openapi({ description: 'Cover image (https).', example: 'https://cdn.example.com/jazz.jpg' }),
    capacity: int32(0, MAX_EVENT_CAPACITY).nullable().openapi({
      description: 'Seats across all ticket types; null: only the ticket types limit sales.',
      example: 300,
    }),
    transfersAllowed: z.boolean().openapi({
      description: 'Whether ticket holders may transfer their tickets to another person (see transferCutoffMinutes).',
      example: true,
    }),
    transferCutoffMinutes: int32(0, MAX_TRANSFER_CUTOFF_MINUTES).openapi({
      description: 'Transfers close this many minutes before the start (0: at the start).',
      example: 60,
    }),
    ...selfServiceFields,
    seriesId: Uuid.nullable().openapi({
      description:
        'The recurring series this event is a date of (GET /api/v1/event-series/{id}), or null for a one-off event.',
      example: null,
    }),
    publishedAt: Timestamp.nullable().openapi({
      description: 'When it was published.',
      example: '2026-05-01T09:00:00.000Z',
    }),
    cancelledAt: Timestamp.nullable().openapi({ description: 'When it was cancelled.', example: null }),
    createdAt: Timestamp.openapi({ description: 'Created.', example: '2026-04-20T10:00:00.000Z' }),
    updatedAt: Timestamp.openapi({ description: 'Last changed.', example: '2026-05-01T09:00:00.000Z' }),
  })
  .openapi('Event', { description: 'An event as staff see it.' });

export type EventResponse = z.infer<typeof EventSchema>;

export const EventListSchema = cursorPage(EventSchema, {
  name: 'EventList',
  items: 'This page of events, earliest start first.',
  cursorExample: 'WyIyMDI2LTA3LTA0VDE4OjAwOjAwLjAwMDAwMFoiLCIzZDJjMWIwYS05ZThmLTRhN2ItOGM2ZC01ZTRmM2EyYjFjMGQiXQ',
});

export type EventListResponse = z.infer<typeof EventListSchema>;

export const EXAMPLE_EVENT: EventResponse = {
  id: EXAMPLE_EVENT_ID,
  slug: 'summer-jazz-night',
  title: 'Summer Jazz Night',
  description: 'Live jazz by the harbour.',
  status: 'draft',
  visibility: 'public',
  timezone: 'Europe/Berlin',
  startsAt: '2026-07-04T18:00:00.000Z',
  endsAt: '2026-07-04T22:00:00.000Z',
  venue: { name: 'Kulturhaus Nord', city: 'Hamburg', country: 'DE', latitude: 53.5453, longitude: 9.9666 },
  onlineUrl: null,
  categories: ['music', 'jazz'],
  coverImageUrl: 'https://cdn.example.com/jazz.jpg',
  capacity: 300,
  transfersAllowed: true,
  transferCutoffMinutes: 60,
  buyerCancellation: 'none',
  buyerCancellationCutoffMinutes: 0,
  attendeeEditCutoffMinutes: null,
  seriesId: null,
  publishedAt: null,
  cancelledAt: null,
  createdAt: '2026-04-20T10:00:00.000Z',
  updatedAt: '2026-04-20T10:00:00.000Z',
};

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const EventIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The event id (a UUID; anything else answers 400).',
    example: EXAMPLE_EVENT_ID,
  }),
});

export const EventListQuerySchema = z
  .object({
    status: z
      .enum(EVENT_STATUSES)
      .optional()
      .openapi({ param: { name: 'status', in: 'query' }, description: 'Only this status.', example: 'published' }),
    visibility: z
      .enum(EVENT_VISIBILITIES)
      .optional()
      .openapi({ param: { name: 'visibility', in: 'query' }, description: 'Only this visibility.', example: 'public' }),
    from: instant()
      .optional()
      .openapi({
        param: { name: 'from', in: 'query' },
        description: 'Only events starting at or after this instant (ISO 8601).',
        example: '2026-07-01T00:00:00Z',
      }),
    to: instant()
      .optional()
      .openapi({
        param: { name: 'to', in: 'query' },
        description: 'Only events starting before this instant (ISO 8601).',
        example: '2026-08-01T00:00:00Z',
      }),
    q: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({
        param: { name: 'q', in: 'query' },
        description: 'Case-insensitive text the title contains (`%` and `_` match literally).',
        example: 'jazz',
      }),
    ...pageParams({
      defaultSize: DEFAULT_PAGE_SIZE,
      maxSize: MAX_PAGE_SIZE,
      cursorExample: 'WyIyMDI2LTA3LTA0VDE4OjAwOjAwLjAwMDAwMFoiLCIzZDJjMWIwYS05ZThmLTRhN2ItOGM2ZC01ZTRmM2EyYjFjMGQiXQ',
    }),
    sort: sortParam(EVENT_SORTS, 'Order of the events: by start or by creation, the id breaking ties.'),
  })
  // Only these filters exist: any other query parameter (organizationId, ...) answers 400.
  .strict()
  .refine((query) => query.from === undefined || query.to === undefined || query.from < query.to, {
    message: '`to` must be after `from`.',
    path: ['to'],
  });

const eventFields = {
  slug: z
    .string()
    .max(MAX_SLUG_LENGTH)
    .regex(SLUG_PATTERN, 'Lowercase letters, digits and inner hyphens, at most 100.')
    .openapi({
      description: 'URL slug, unique in the organization; generated from the title when omitted on create.',
      example: 'summer-jazz-night',
    }),
  title: singleLine(MAX_TITLE_LENGTH).openapi({
    description: 'Title, 1 to 200 characters.',
    example: 'Summer Jazz Night',
  }),
  description: z
    .string()
    .max(MAX_DESCRIPTION_LENGTH)
    .openapi({ description: 'Description, at most 20,000 characters.', example: '' }),
  visibility: z.enum(EVENT_VISIBILITIES).openapi({ description: 'Visibility (default `public`).', example: 'public' }),
  timezone: z
    .string()
    .max(MAX_TIMEZONE_LENGTH)
    .refine(isTimeZone, 'Must be an IANA timezone such as Europe/Berlin.')
    .openapi({ description: 'IANA timezone.', example: 'Europe/Berlin' }),
  startsAt: instant().openapi({ description: 'Start (ISO 8601; stored in UTC).', example: '2026-07-04T18:00:00Z' }),
  endsAt: instant().openapi({ description: 'End, after the start (ISO 8601).', example: '2026-07-04T22:00:00Z' }),
  venue: VenueSchema.nullable().openapi({ description: 'The venue, or null.' }),
  onlineUrl: httpsUrl().nullable().openapi({
    description: 'Join URL of an online event (https only, a domain name as host, at most 2,048 characters), or null.',
    example: 'https://meet.example.com/j',
  }),
  categories: z
    .array(singleLine(MAX_CATEGORY_LENGTH))
    .max(MAX_CATEGORIES)
    .openapi({ description: 'Up to 10 categories of 1 to 40 characters.', example: ['music', 'jazz'] }),
  coverImageUrl: httpsUrl().nullable().openapi({
    description: 'Cover image URL (https only, a domain name as host, at most 2,048 characters), or null.',
    example: 'https://cdn.example.com/jazz.jpg',
  }),
  capacity: int32(1, MAX_EVENT_CAPACITY)
    .nullable()
    .openapi({ description: 'Seats across all ticket types, or null for no overall limit.', example: 300 }),
  transfersAllowed: z.boolean().openapi({
    description:
      'Whether ticket holders may transfer a ticket to another name and email (default true; they never can once ' +
      'it is checked in).',
    example: true,
  }),
  transferCutoffMinutes: int32(0, MAX_TRANSFER_CUTOFF_MINUTES).openapi({
    description:
      'Transfers close this many minutes before the start: 0 (default) to 43,200 (30 days). Transfers always close ' +
      'when the event starts.',
    example: 60,
  }),
};

export const EventCreateSchema = z
  .object({
    ...eventFields,
    slug: eventFields.slug.optional(),
    description: eventFields.description.optional(),
    visibility: eventFields.visibility.optional(),
    venue: eventFields.venue.optional(),
    onlineUrl: eventFields.onlineUrl.optional(),
    categories: eventFields.categories.optional(),
    coverImageUrl: eventFields.coverImageUrl.optional(),
    capacity: eventFields.capacity.optional(),
    transfersAllowed: eventFields.transfersAllowed.optional(),
    transferCutoffMinutes: eventFields.transferCutoffMinutes.optional(),
    buyerCancellation: selfServiceFields.buyerCancellation.optional(),
    buyerCancellationCutoffMinutes: selfServiceFields.buyerCancellationCutoffMinutes.optional(),
    attendeeEditCutoffMinutes: selfServiceFields.attendeeEditCutoffMinutes.optional(),
  })
  .strict()
  .refine((body) => body.endsAt > body.startsAt, { message: 'endsAt must be after startsAt', path: ['endsAt'] })
  .openapi('EventCreate', {
    description: 'A new event (created as a draft). Nothing else is accepted.',
    example: {
      title: 'Summer Jazz Night',
      timezone: 'Europe/Berlin',
      startsAt: '2026-07-04T18:00:00Z',
      endsAt: '2026-07-04T22:00:00Z',
      venue: { name: 'Kulturhaus Nord', address: 'Hafenstraße 12', city: 'Hamburg', country: 'DE' },
      categories: ['music', 'jazz'],
      capacity: 300,
    },
  });

export const EventUpdateSchema = z
  .object({
    slug: eventFields.slug.optional(),
    title: eventFields.title.optional(),
    description: eventFields.description.optional(),
    visibility: eventFields.visibility.optional(),
    timezone: eventFields.timezone.optional(),
    startsAt: eventFields.startsAt.optional(),
    endsAt: eventFields.endsAt.optional(),
    venue: eventFields.venue.optional(),
    onlineUrl: eventFields.onlineUrl.optional(),
    categories: eventFields.categories.optional(),
    coverImageUrl: eventFields.coverImageUrl.optional(),
    capacity: eventFields.capacity.optional(),
    transfersAllowed: eventFields.transfersAllowed.optional(),
    transferCutoffMinutes: eventFields.transferCutoffMinutes.optional(),
    buyerCancellation: selfServiceFields.buyerCancellation.optional(),
    buyerCancellationCutoffMinutes: selfServiceFields.buyerCancellationCutoffMinutes.optional(),
    attendeeEditCutoffMinutes: selfServiceFields.attendeeEditCutoffMinutes.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, {
    message: 'Give at least one field to change.',
  })
  .refine((body) => body.startsAt === undefined || body.endsAt === undefined || body.endsAt > body.startsAt, {
    message: 'endsAt must be after startsAt',
    path: ['endsAt'],
  })
  .openapi('EventUpdate', {
    description: 'The fields to change; status, timestamps and ids are not accepted (use publish and cancel).',
    example: { title: 'Summer Jazz Night (extended)', endsAt: '2026-07-04T23:30:00Z' },
  });
