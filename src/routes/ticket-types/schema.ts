import { z } from '@hono/zod-openapi';
import { EXAMPLE_EVENT_ID, instant } from '../events/schema.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';

export const EXAMPLE_TICKET_TYPE_ID = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
const MAX_PRICE = 100_000_000;
const MAX_QUANTITY = 1_000_000;

// Module scope: the ISO 4217 codes the runtime knows, computed once per isolate.
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export const TicketTypeSchema = z
  .object({
    id: z.uuid().openapi({ description: 'Ticket type id.', example: EXAMPLE_TICKET_TYPE_ID }),
    eventId: z.uuid().openapi({ description: 'The event it belongs to.', example: EXAMPLE_EVENT_ID }),
    name: z.string().openapi({ description: 'Name.', example: 'Early bird' }),
    description: z.string().openapi({ description: 'Description.', example: 'Until the end of May.' }),
    price: z.number().int().openapi({ description: 'Price in minor units (cents); 0 is free.', example: 2500 }),
    currency: z.string().openapi({ description: 'ISO 4217 currency code.', example: 'EUR' }),
    quantity: z.number().int().openapi({ description: 'Tickets for sale in total.', example: 100 }),
    sold: z.number().int().openapi({ description: 'Tickets of confirmed bookings.', example: 12 }),
    held: z.number().int().openapi({ description: 'Tickets held by pending bookings.', example: 3 }),
    remaining: z.number().int().openapi({ description: 'quantity - sold - held.', example: 85 }),
    salesStartAt: z.iso
      .datetime()
      .nullable()
      .openapi({ description: 'Sales open (UTC); null: at once.', example: '2026-05-01T00:00:00.000Z' }),
    salesEndAt: z.iso
      .datetime()
      .nullable()
      .openapi({ description: 'Sales close (UTC); null: at the event start.', example: '2026-05-31T22:00:00.000Z' }),
    minPerOrder: z.number().int().openapi({ description: 'Fewest per booking.', example: 1 }),
    maxPerOrder: z.number().int().openapi({ description: 'Most per booking.', example: 10 }),
    hidden: z.boolean().openapi({ description: 'Sold only with the access code.', example: false }),
    accessCode: z.string().nullable().openapi({ description: 'Access code of a hidden ticket type.', example: null }),
    sortOrder: z.number().int().openapi({ description: 'Position in lists, ascending.', example: 0 }),
    createdAt: z.iso.datetime().openapi({ description: 'Created.', example: '2026-04-20T10:00:00.000Z' }),
    updatedAt: z.iso.datetime().openapi({ description: 'Last changed.', example: '2026-04-20T10:00:00.000Z' }),
  })
  .openapi('TicketType', { description: 'A ticket type as staff see it, with its sold and held counts.' });

export type TicketTypeResponse = z.infer<typeof TicketTypeSchema>;

export const TicketTypeListSchema = z
  .object({ data: z.array(TicketTypeSchema).openapi({ description: 'By sortOrder, then creation.' }) })
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
  createdAt: '2026-04-20T10:00:00.000Z',
  updatedAt: '2026-04-20T10:00:00.000Z',
};

export const TicketTypeIdParamsSchema = z.object({
  id: z.uuid().openapi({
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
    .max(100)
    .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
    .openapi({ description: 'Name, 1 to 100 characters.', example: 'Early bird' }),
  description: z.string().max(2000).openapi({ description: 'Description, at most 2,000 characters.', example: '' }),
  price: z
    .number()
    .int()
    .min(0)
    .max(MAX_PRICE)
    .openapi({ description: 'Price in minor units (integer, 0 for free).', example: 2500 }),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'Must be three uppercase letters.')
    .refine((code) => CURRENCIES.has(code), 'Must be an ISO 4217 currency code.')
    .openapi({ description: 'ISO 4217 currency code, uppercase.', example: 'EUR' }),
  quantity: z
    .number()
    .int()
    .min(0)
    .max(MAX_QUANTITY)
    .openapi({ description: 'Tickets for sale in total; never below sold + held.', example: 100 }),
  salesStartAt: instant()
    .nullable()
    .openapi({ description: 'Sales open (ISO 8601), or null.', example: '2026-05-01T00:00:00Z' }),
  salesEndAt: instant()
    .nullable()
    .openapi({ description: 'Sales close (ISO 8601, after salesStartAt), or null.', example: '2026-05-31T22:00:00Z' }),
  minPerOrder: z.number().int().min(1).max(1000).openapi({ description: 'Fewest per booking (>= 1).', example: 1 }),
  maxPerOrder: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .openapi({ description: 'Most per booking (>= minPerOrder; default 10).', example: 10 }),
  hidden: z.boolean().openapi({ description: 'Sold only with the access code.', example: false }),
  accessCode: z
    .string()
    .min(4)
    .max(64)
    .regex(/^[\x21-\x7e]+$/, 'Printable ASCII without spaces.')
    .nullable()
    .openapi({ description: 'Required for a hidden ticket type: 4 to 64 printable characters.', example: 'VIP2026' }),
  sortOrder: z.number().int().min(-1000).max(1000).openapi({ description: 'Position in lists.', example: 0 }),
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
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, {
    message: 'Give at least one field to change.',
  })
  .openapi('TicketTypeUpdate', { description: 'The fields to change; nothing else is accepted.' });
