import { z } from '@hono/zod-openapi';
import { EXAMPLE_EVENT_ID, instant } from '../events/schema.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { CurrencyCode, int32, StoredCurrencyCode, storedLine, Timestamp, Uuid } from '../fields.ts';
import { MAX_TICKET_TYPES_PER_EVENT } from '../../services/events/ticket-types.ts';

export const EXAMPLE_TICKET_TYPE_ID = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
/** The highest ticket price, in minor units (one million in a two-decimal currency). */
export const MAX_PRICE = 100_000_000;
export const MAX_QUANTITY = 1_000_000;
export const MAX_NAME_LENGTH = 100;
export const MAX_DESCRIPTION_LENGTH = 2000;
export const MAX_PER_ORDER = 1000;
export const ACCESS_CODE_PATTERN = /^[\x21-\x7e]+$/;
const SORT_ORDER = { min: -1000, max: 1000 } as const;

export const TicketTypeSchema = z
  .object({
    id: Uuid.openapi({ description: 'Ticket type id.', example: EXAMPLE_TICKET_TYPE_ID }),
    eventId: Uuid.openapi({ description: 'The event it belongs to.', example: EXAMPLE_EVENT_ID }),
    name: storedLine(MAX_NAME_LENGTH).openapi({ description: 'Name.', example: 'Early bird' }),
    description: z
      .string()
      .max(MAX_DESCRIPTION_LENGTH)
      .openapi({ description: 'Description.', example: 'Until the end of May.' }),
    price: int32(0, MAX_PRICE).openapi({ description: 'Price in minor units (cents); 0 is free.', example: 2500 }),
    currency: StoredCurrencyCode.openapi({ description: 'ISO 4217 currency code.', example: 'EUR' }),
    quantity: int32(0, MAX_QUANTITY).openapi({ description: 'Tickets for sale in total.', example: 100 }),
    sold: int32(0, MAX_QUANTITY).openapi({ description: 'Tickets of confirmed bookings.', example: 12 }),
    held: int32(0, MAX_QUANTITY).openapi({ description: 'Tickets held by pending bookings.', example: 3 }),
    remaining: int32(0, MAX_QUANTITY).openapi({ description: 'quantity - sold - held.', example: 85 }),
    salesStartAt: Timestamp.nullable().openapi({
      description: 'Sales open (UTC); null: at once.',
      example: '2026-05-01T00:00:00.000Z',
    }),
    salesEndAt: Timestamp.nullable().openapi({
      description: 'Sales close (UTC); null: at the event start.',
      example: '2026-05-31T22:00:00.000Z',
    }),
    minPerOrder: int32(1, MAX_PER_ORDER).openapi({ description: 'Fewest per booking.', example: 1 }),
    maxPerOrder: int32(1, MAX_PER_ORDER).openapi({ description: 'Most per booking.', example: 10 }),
    hidden: z.boolean().openapi({ description: 'Sold only with the access code.', example: false }),
    accessCode: z
      .string()
      .min(4)
      .max(64)
      .regex(ACCESS_CODE_PATTERN)
      .nullable()
      .openapi({ description: 'Access code of a hidden ticket type.', example: null }),
    sortOrder: int32(SORT_ORDER.min, SORT_ORDER.max).openapi({
      description: 'Position in lists, ascending.',
      example: 0,
    }),
    taxRate: int32(0, 10000).openapi({
      description: 'Tax rate in basis points (1900 = 19 %) for invoices; prices are gross (tax included).',
      example: 1900,
    }),
    createdAt: Timestamp.openapi({ description: 'Created.', example: '2026-04-20T10:00:00.000Z' }),
    updatedAt: Timestamp.openapi({ description: 'Last changed.', example: '2026-04-20T10:00:00.000Z' }),
  })
  .openapi('TicketType', { description: 'A ticket type as staff see it, with its sold and held counts.' });

export type TicketTypeResponse = z.infer<typeof TicketTypeSchema>;

export const TicketTypeListSchema = z
  .object({
    data: z
      .array(TicketTypeSchema)
      .max(MAX_TICKET_TYPES_PER_EVENT)
      .openapi({
        description: `By sortOrder, then creation. All of them: an event has at most ${MAX_TICKET_TYPES_PER_EVENT}.`,
      }),
  })
  .openapi('TicketTypeList');

export type TicketTypeListResponse = z.infer<typeof TicketTypeListSchema>;

export const EXAMPLE_TICKET_TYPE: TicketTypeResponse = {
  id: EXAMPLE_TICKET_TYPE_ID,
  eventId: EXAMPLE_EVENT_ID,
  name: 'Early bird',
  description: 'Until the end of May.',
  price: 2500,
  currency: 'EUR',
  quantity: 100,
  sold: 0,
  held: 0,
  remaining: 100,
  salesStartAt: null,
  salesEndAt: '2026-05-31T22:00:00.000Z',
  minPerOrder: 1,
  maxPerOrder: 10,
  hidden: false,
  accessCode: null,
  sortOrder: 0,
  taxRate: 1900,
  createdAt: '2026-04-20T10:00:00.000Z',
  updatedAt: '2026-04-20T10:00:00.000Z',
};

export const TicketTypeIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The ticket type id (a UUID; anything else answers 400).',
    example: EXAMPLE_TICKET_TYPE_ID,
  }),
});

const fields = {
  name: z
    .string()
    .trim()
    .min(1)
    .max(MAX_NAME_LENGTH)
    .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
    .openapi({ description: 'Name, 1 to 100 characters.', example: 'Early bird' }),
  description: z
    .string()
    .max(MAX_DESCRIPTION_LENGTH)
    .openapi({ description: 'Description, at most 2,000 characters.', example: '' }),
  price: int32(0, MAX_PRICE).openapi({
    description: 'Price in minor units (integer, 0 for free), at most 100,000,000.',
    example: 2500,
  }),
  currency: CurrencyCode.openapi({ description: 'ISO 4217 currency code, uppercase.', example: 'EUR' }),
  quantity: int32(0, MAX_QUANTITY).openapi({
    description: 'Tickets for sale in total; never below sold + held.',
    example: 100,
  }),
  salesStartAt: instant()
    .nullable()
    .openapi({ description: 'Sales open (ISO 8601), or null.', example: '2026-05-01T00:00:00Z' }),
  salesEndAt: instant()
    .nullable()
    .openapi({ description: 'Sales close (ISO 8601, after salesStartAt), or null.', example: '2026-05-31T22:00:00Z' }),
  minPerOrder: int32(1, MAX_PER_ORDER).openapi({ description: 'Fewest per booking (>= 1).', example: 1 }),
  maxPerOrder: int32(1, MAX_PER_ORDER).openapi({
    description: 'Most per booking (>= minPerOrder; default 10).',
    example: 10,
  }),
  hidden: z.boolean().openapi({ description: 'Sold only with the access code.', example: false }),
  accessCode: z
    .string()
    .min(4)
    .max(64)
    .regex(ACCESS_CODE_PATTERN, 'Printable ASCII without spaces.')
    .nullable()
    .openapi({ description: 'Required for a hidden ticket type: 4 to 64 printable characters.', example: 'VIP2026' }),
  sortOrder: int32(SORT_ORDER.min, SORT_ORDER.max).openapi({ description: 'Position in lists.', example: 0 }),
  taxRate: int32(0, 10000).openapi({
    description: 'Tax rate in basis points, 0 to 10000 (1900 = 19 %; default 0). Prices are gross: tax included.',
    example: 1900,
  }),
};

export const TicketTypeCreateSchema = z
  .object({
    name: fields.name,
    description: fields.description.optional(),
    price: fields.price,
    currency: fields.currency,
    quantity: fields.quantity,
    salesStartAt: fields.salesStartAt.optional(),
    salesEndAt: fields.salesEndAt.optional(),
    minPerOrder: fields.minPerOrder.optional(),
    maxPerOrder: fields.maxPerOrder.optional(),
    hidden: fields.hidden.optional(),
    accessCode: fields.accessCode.optional(),
    sortOrder: fields.sortOrder.optional(),
    taxRate: fields.taxRate.optional(),
  })
  .strict()
  .openapi('TicketTypeCreate', {
    description: 'A new ticket type. `sold`, `held` and ids are not accepted.',
  });

export const TicketTypeUpdateSchema = z
  .object({
    name: fields.name.optional(),
    description: fields.description.optional(),
    price: fields.price.optional(),
    currency: fields.currency.optional(),
    quantity: fields.quantity.optional(),
    salesStartAt: fields.salesStartAt.optional(),
    salesEndAt: fields.salesEndAt.optional(),
    minPerOrder: fields.minPerOrder.optional(),
    maxPerOrder: fields.maxPerOrder.optional(),
    hidden: fields.hidden.optional(),
    accessCode: fields.accessCode.optional(),
    sortOrder: fields.sortOrder.optional(),
    taxRate: fields.taxRate.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, {
    message: 'Give at least one field to change.',
  })
  .openapi('TicketTypeUpdate', { description: 'The fields to change; nothing else is accepted.' });
