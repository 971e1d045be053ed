import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { MAX_DATES_LISTED } from '../../services/series/index.ts';
import { DEFAULT_HORIZON_DAYS, MAX_HORIZON_DAYS } from '../../services/series/horizon.ts';
import {
  EXAMPLE_EVENT,
  EventSchema,
  instant,
  isTimeZoneField,
  MAX_DESCRIPTION_LENGTH,
  MAX_EVENT_CAPACITY,
  MAX_TITLE_LENGTH,
  VenueSchema,
} from './shared.ts';
import { int32, StoredCurrencyCode, storedLine, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams } from '../pagination.ts';
import { MAX_NAME_LENGTH, MAX_PER_ORDER, MAX_PRICE, MAX_QUANTITY } from '../ticket-types/schema.ts';

export const EXAMPLE_SERIES_ID = '6a1f0c3e-2b4d-4e5f-9a8b-7c6d5e4f3a2b';
export const MAX_RRULE_LENGTH = 500;
export const MAX_SERIES_TICKET_TYPES = 10;
const MAX_DURATION_MINUTES = 7 * 24 * 60;

const title = z
  .string()
  .trim()
  .min(1)
  .max(MAX_TITLE_LENGTH)
  .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
  .openapi({ description: 'Title of every date, 1 to 200 characters.', example: 'Tuesday Jazz' });
const description = z
  .string()
  .max(MAX_DESCRIPTION_LENGTH)
  .openapi({ description: 'Description of every date, at most 20,000 characters.', example: '' });
const capacity = int32(1, MAX_EVENT_CAPACITY)
  .nullable()
  .openapi({ description: 'Seats of each date across its ticket types, or null.', example: 80 });

export const SeriesTicketTypeSchema = z
  .object({
    name: storedLine(MAX_NAME_LENGTH).min(1).openapi({ description: 'Name.', example: 'Standard' }),
    price: int32(0, MAX_PRICE).openapi({ description: 'Price in minor units; 0 is free.', example: 1500 }),
    currency: StoredCurrencyCode.openapi({ description: 'ISO 4217 currency code.', example: 'EUR' }),
    quantity: int32(0, MAX_QUANTITY).openapi({ description: 'Tickets of this type on sale per date.', example: 80 }),
    maxPerOrder: int32(1, MAX_PER_ORDER).openapi({ description: 'Most per booking.', example: 10 }),
  })
  .strict()
  .openapi('SeriesTicketType', {
    description: "A ticket type of the template, created on every date with the date's own counts.",
  });

const rrule = z
  .string()
  .min(1)
  .max(MAX_RRULE_LENGTH)
  .regex(/^[A-Za-z0-9=;,:+-]+$/, 'RRULE parts such as FREQ=WEEKLY;BYDAY=TU.')
  .openapi({
    description:
      'The RFC 5545 RRULE parts without DTSTART or TZID (those are `startLocal` and `timezone`). FREQ is YEARLY, ' +
      `MONTHLY, WEEKLY, DAILY or HOURLY; a rule with more than ${MAX_DATES_LISTED} dates within the horizon is ` +
      'refused (400).',
    example: 'FREQ=WEEKLY;BYDAY=TU;COUNT=20',
  });

export const SeriesCreateSchema = z
  .object({
    title,
    description: description.optional(),
    timezone: isTimeZoneField,
    rrule,
    startLocal: z
      .string()
      .max(16)
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/, 'A local date and time YYYY-MM-DDTHH:mm.')
      .openapi({
        description: 'DTSTART: the first date and its start, a wall-clock time in `timezone` (kept across DST).',
        example: '2027-03-02T19:00',
      }),
    durationMinutes: int32(1, MAX_DURATION_MINUTES).openapi({
      description: 'Length of each date in minutes (1 to 10,080).',
      example: 120,
    }),
    venue: VenueSchema.nullable().optional(),
    capacity: capacity.optional(),
    ticketTypes: z
      .array(SeriesTicketTypeSchema)
      .min(1)
      .max(MAX_SERIES_TICKET_TYPES)
      .openapi({
        description: `1 to ${MAX_SERIES_TICKET_TYPES} ticket types, created on every date.`,
      }),
    publish: z.enum(['draft', 'published']).optional().openapi({
      description:
        'Status of the dates created (default `draft`). Published dates count against the `publishedEvents` quota.',
      example: 'published',
    }),
    horizonDays: int32(1, MAX_HORIZON_DAYS)
      .optional()
      .openapi({
        description: `Dates are materialized this many days ahead (default ${DEFAULT_HORIZON_DAYS}, at most ${MAX_HORIZON_DAYS}).`,
        example: 90,
      }),
  })
  .strict()
  .openapi('EventSeriesCreate', {
    description: 'A new recurring series: a template and a rule. Nothing else is accepted.',
    example: {
      title: 'Tuesday Jazz',
      timezone: 'Europe/Berlin',
      rrule: 'FREQ=WEEKLY;BYDAY=TU',
      startLocal: '2027-03-02T19:00',
      durationMinutes: 120,
      ticketTypes: [{ name: 'Standard', price: 1500, currency: 'EUR', quantity: 80, maxPerOrder: 10 }],
      publish: 'published',
    },
  });

export const SeriesUpdateSchema = z
  .object({
    from: instant().optional().openapi({
      description: 'The change applies to dates starting at or after this instant (default: now).',
      example: '2027-04-01T00:00:00Z',
    }),
    title: title.optional(),
    description: description.optional(),
    venue: VenueSchema.nullable().optional(),
    capacity: capacity.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).some((key) => key !== 'from'), { message: 'Give at least one field to change.' })
  .openapi('EventSeriesUpdate', {
    description: '"All future dates": the fields to change from `from` on.',
    example: { from: '2027-04-01T00:00:00Z', title: 'Jazz', capacity: 60 },
  });

export const SeriesSchema = z
  .object({
    id: Uuid.openapi({ description: 'Series id.', example: EXAMPLE_SERIES_ID }),
    title: storedLine(MAX_TITLE_LENGTH),
    description: z.string().max(MAX_DESCRIPTION_LENGTH),
    timezone: z.string().max(64).openapi({ example: 'Europe/Berlin' }),
    rrule: z.string().max(MAX_RRULE_LENGTH).openapi({ example: 'FREQ=WEEKLY;BYDAY=TU' }),
    startLocal: z.string().max(16).openapi({ example: '2027-03-02T19:00' }),
    durationMinutes: int32(1, MAX_DURATION_MINUTES),
    venue: VenueSchema.nullable(),
    capacity: int32(1, MAX_EVENT_CAPACITY).nullable(),
    ticketTypes: z.array(SeriesTicketTypeSchema).max(MAX_SERIES_TICKET_TYPES),
    publish: z.enum(['draft', 'published']),
    horizonDays: int32(1, MAX_HORIZON_DAYS),
    materializedUntil: Timestamp.nullable().openapi({ description: 'Dates exist up to this instant.' }),
    endedAt: Timestamp.nullable().openapi({ description: 'When the series was ended, or null.' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('EventSeries', { description: 'A recurring series: its template and rule.' });

export const MAX_SERIES_PAGE_SIZE = 100;
const EXAMPLE_CURSOR = 'WyIyMDI3LTAzLTAxVDEyOjAwOjAwLjAwMDAwMFoiLCIzZjJiIl0';

export const SeriesListQuerySchema = z
  .object({
    ended: z
      .enum(['true', 'false'])
      .optional()
      .openapi({
        param: { name: 'ended', in: 'query' },
        description: '`true`: only ended series; `false`: only running ones (default: both).',
        example: 'false',
      }),
    ...pageParams({ defaultSize: 50, maxSize: MAX_SERIES_PAGE_SIZE, cursorExample: EXAMPLE_CURSOR }),
  })
  .strict();

export const SeriesPageSchema = cursorPage(SeriesSchema, {
  name: 'EventSeriesPage',
  items: 'Series, newest first.',
  cursorExample: EXAMPLE_CURSOR,
  maxItems: MAX_SERIES_PAGE_SIZE,
});

export const EXAMPLE_SERIES: z.infer<typeof SeriesSchema> = {
  id: EXAMPLE_SERIES_ID,
  title: 'Tuesday Jazz',
  description: '',
  timezone: 'Europe/Berlin',
  rrule: 'FREQ=WEEKLY;BYDAY=TU',
  startLocal: '2027-03-02T19:00',
  durationMinutes: 120,
  venue: null,
  capacity: 80,
  ticketTypes: [{ name: 'Standard', price: 1500, currency: 'EUR', quantity: 80, maxPerOrder: 10 }],
  publish: 'published',
  horizonDays: 180,
  materializedUntil: '2027-08-29T12:00:00.000Z',
  endedAt: null,
  createdAt: '2027-03-01T12:00:00.000Z',
  updatedAt: '2027-03-01T12:00:00.000Z',
};

export const SeriesCreatedSchema = z
  .object({
    series: SeriesSchema,
    dates: int32(0, MAX_DATES_LISTED).openapi({ description: 'Dates created.', example: 26 }),
  })
  .openapi('EventSeriesCreated');

export const SeriesUpdatedSchema = z
  .object({
    series: SeriesSchema,
    updated: int32(0, 1_000_000).openapi({ description: 'Future dates changed.', example: 20 }),
    skipped: int32(0, 1_000_000).openapi({
      description: 'Future dates left as they are: edited on their own, or with seats sold or held.',
      example: 2,
    }),
  })
  .openapi('EventSeriesUpdated');

export const SeriesDateSchema = EventSchema.extend({
  seriesId: Uuid.openapi({ description: 'The series of this date.', example: EXAMPLE_SERIES_ID }),
  occurrenceStart: Timestamp.openapi({ description: "The rule's occurrence this date is (UTC)." }),
  seriesDetached: z.boolean().openapi({ description: 'Edited on its own: future-date edits of the series skip it.' }),
}).openapi('EventSeriesDate');

export const SeriesDatesSchema = z
  .object({ data: z.array(SeriesDateSchema).max(MAX_DATES_LISTED) })
  .openapi('EventSeriesDates');

export const EXAMPLE_SERIES_DATE = {
  ...EXAMPLE_EVENT,
  seriesId: EXAMPLE_SERIES_ID,
  occurrenceStart: EXAMPLE_EVENT.startsAt,
  seriesDetached: false,
};

export const SeriesIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The series id (a UUID; anything else answers 400).',
    example: EXAMPLE_SERIES_ID,
  }),
});

export const SeriesDatesQuerySchema = z
  .object({
    from: instant()
      .optional()
      .openapi({
        param: { name: 'from', in: 'query' },
        description: 'Only dates starting at or after this instant (ISO 8601).',
        example: '2027-04-01T00:00:00Z',
      }),
  })
  .strict();

export const SeriesEndedSchema = z
  .object({
    series: SeriesSchema,
    deleted: int32(0, 1_000_000).openapi({ description: 'Future draft dates deleted.', example: 0 }),
    cancelled: int32(0, 1_000_000).openapi({
      description: 'Future published dates without bookings cancelled.',
      example: 10,
    }),
    kept: int32(0, 1_000_000).openapi({ description: 'Future dates with seats sold or held, kept.', example: 2 }),
  })
  .openapi('EventSeriesEnded');
