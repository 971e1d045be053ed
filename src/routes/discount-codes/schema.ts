import { z } from '@hono/zod-openapi';
import { MAX_PRICE } from '../ticket-types/schema.ts';
import { int32, CurrencyCode, StoredCurrencyCode, Timestamp, Uuid } from '../fields.ts';

/** Discount codes per event, so the list (not paginated) stays bounded. */
export const MAX_DISCOUNT_CODES_PER_EVENT = 500;
const MAX_SCOPED_TICKET_TYPES = 100;
const MAX_CURRENCIES = 20;
const EXAMPLE_ID = '3f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const EXAMPLE_TICKET_TYPE_ID = '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f';

/** A discount code as typed by a buyer or staff: case-insensitive, 3 to 40 letters, digits, `-` or `_`. */
export const DiscountCodeString = z
  .string()
  .min(3)
  .max(40)
  .regex(/^[A-Za-z0-9_-]+$/, 'Letters, digits, - and _ only.')
  .openapi({ description: 'A discount code (case-insensitive).', example: 'EARLY26' });

export const DiscountCodeCreateSchema = z
  .object({
    code: DiscountCodeString,
    kind: z.enum(['percent', 'fixed']).openapi({
      description: '`percent`: `percent` % off the eligible items; `fixed`: `amounts[currency]` off the order.',
    }),
    percent: int32(1, 100).optional().openapi({ description: 'Required for `percent` (1 to 100).', example: 20 }),
    amounts: z
      .partialRecord(CurrencyCode, int32(1, MAX_PRICE))
      .optional()
      .openapi({
        description:
          'Required for `fixed`: minor units off per order currency (ISO 4217). An order in a currency not listed ' +
          'cannot use the code. At most ' +
          `${MAX_CURRENCIES} currencies.`,
        example: { EUR: 500, USD: 600 },
      }),
    ticketTypeIds: z
      .array(Uuid)
      .max(MAX_SCOPED_TICKET_TYPES)
      .optional()
      .openapi({
        description: 'Only these ticket types are eligible (default: the whole order).',
        example: [EXAMPLE_TICKET_TYPE_ID],
      }),
    unlocksHidden: z.boolean().optional().openapi({
      description: 'The code also unlocks the hidden ones of `ticketTypeIds` (instead of their access code).',
    }),
    minQuantity: int32(1, 100).optional().openapi({ description: 'Eligible tickets needed (default 1).' }),
    startsAt: Timestamp.nullable().optional(),
    endsAt: Timestamp.nullable().optional(),
    maxUses: int32(1).nullable().optional().openapi({ description: 'Total uses (default unlimited).' }),
    maxPerBuyer: int32(1).nullable().optional().openapi({ description: 'Uses per buyer email (default unlimited).' }),
  })
  .strict()
  .openapi('DiscountCodeCreateRequest', {
    example: { code: 'EARLY26', kind: 'percent', percent: 20, maxUses: 100, maxPerBuyer: 1 },
  });

export const DiscountCodeUpdateSchema = DiscountCodeCreateSchema.omit({ code: true, kind: true })
  .partial()
  .openapi('DiscountCodeUpdateRequest', {
    description:
      'The fields to change; those left out stay. `null` clears `startsAt`, `endsAt`, `maxUses` or `maxPerBuyer`.',
    example: { endsAt: '2026-12-31T23:00:00.000Z', maxUses: 200 },
  });

export const DiscountCodeSchema = z
  .object({
    id: Uuid.openapi({ example: EXAMPLE_ID }),
    eventId: Uuid,
    code: z.string().max(40).openapi({ description: 'Upper-cased.', example: 'EARLY26' }),
    kind: z.enum(['percent', 'fixed']),
    percent: int32(1, 100).nullable(),
    amounts: z.record(StoredCurrencyCode, int32(1, MAX_PRICE)),
    ticketTypeIds: z.array(Uuid).max(MAX_SCOPED_TICKET_TYPES),
    unlocksHidden: z.boolean(),
    minQuantity: int32(1, 100),
    startsAt: Timestamp.nullable(),
    endsAt: Timestamp.nullable(),
    maxUses: int32(1).nullable(),
    maxPerBuyer: int32(1).nullable(),
    uses: int32(0).openapi({
      description:
        'Bookings holding the code that are pending or confirmed. A booking that is cancelled, expires unpaid or is refunded in full gives its use back.',
    }),
    createdAt: Timestamp,
  })
  .openapi('DiscountCode');

export const DiscountCodeListSchema = z
  .object({ data: z.array(DiscountCodeSchema).max(MAX_DISCOUNT_CODES_PER_EVENT) })
  .openapi('DiscountCodeList');

export const DiscountCodeIdParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The discount code id.', example: EXAMPLE_ID }),
});

/** The discount applied to a booking (null without one). */
export const AppliedDiscountSchema = z
  .object({
    code: z.string().max(40).openapi({ example: 'EARLY26' }),
    amount: int32(0).openapi({ description: 'Minor units taken off; `total` is after it.', example: 1000 }),
  })
  .nullable()
  .openapi('AppliedDiscount');
