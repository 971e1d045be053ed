import { z } from '@hono/zod-openapi';
import { EmailSchema, int32, NameSchema, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams } from '../pagination.ts';

// What NameSchema and EmailSchema let in, trimmed (as in ../bookings/schema.ts).
const MAX_STORED_NAME = 200;
const MAX_STORED_EMAIL = 254;

/** The largest group one waitlist entry may ask for (the ticket type's maxPerOrder bounds it further). */
export const MAX_WAITLIST_GROUP = 50;

export const WaitlistJoinSchema = z
  .object({
    ticketTypeId: Uuid.openapi({ description: 'The sold-out ticket type to wait for.' }),
    name: NameSchema,
    email: EmailSchema,
    groupSize: int32(1, MAX_WAITLIST_GROUP)
      .default(1)
      .openapi({
        description:
          'How many seats the group needs (default 1, at most the ticket type’s `maxPerOrder`). An offer is made ' +
          'only for exactly this many seats.',
      }),
  })
  .strict()
  .openapi('WaitlistJoin', {
    description: 'Who waits for which ticket type, and for how many seats.',
    example: {
      ticketTypeId: '0b8f2d1e-8a55-4c1e-9a54-3f1a2b3c4d5e',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      groupSize: 2,
    },
  });

export const WaitlistJoinedSchema = z
  .object({
    status: z.literal('waiting').openapi({
      description: 'Always `waiting`: the same answer whether or not this email was already on the waitlist.',
    }),
  })
  .openapi('WaitlistJoined');

export const WaitlistClaimedSchema = z
  .object({
    id: Uuid.openapi({ description: 'The booking the offer held, now confirmed.' }),
    status: z.literal('confirmed'),
  })
  .openapi('WaitlistClaimed');

export const WaitlistDeclinedSchema = z
  .object({
    id: Uuid.openapi({ description: 'The booking the offer held, now cancelled.' }),
    status: z.literal('cancelled'),
  })
  .openapi('WaitlistDeclined');

export const MAX_WAITLIST_PAGE_SIZE = 100;
const EXAMPLE_CURSOR = 'WyIyMDI2LTA2LTAxVDA5OjAwOjAwLjAwMDAwMFoiLCIzZjJiIl0';
export const WAITLIST_STATUSES = ['waiting', 'offered', 'claimed', 'expired', 'left'] as const;

export const WaitlistListQuerySchema = z
  .object({
    status: z
      .enum(WAITLIST_STATUSES)
      .optional()
      .openapi({ param: { name: 'status', in: 'query' }, description: 'Only entries in this status.' }),
    ...pageParams({ defaultSize: 50, maxSize: MAX_WAITLIST_PAGE_SIZE, cursorExample: EXAMPLE_CURSOR }),
  })
  .strict();

export const WaitlistEntrySchema = z
  .object({
    id: Uuid,
    eventId: Uuid,
    ticketTypeId: Uuid,
    name: z.string().max(MAX_STORED_NAME),
    email: z.string().max(MAX_STORED_EMAIL),
    groupSize: int32(1, MAX_WAITLIST_GROUP),
    status: z.enum(WAITLIST_STATUSES).openapi({
      description:
        '`waiting` in the queue; `offered` seats are held by the pending booking `bookingId`; `claimed` that ' +
        'booking was confirmed; `expired` the offer lapsed or was cancelled unclaimed; `left` removed by staff.',
    }),
    bookingId: Uuid.nullable().openapi({ description: 'The booking of the offer, once offered.' }),
    offeredAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .openapi('WaitlistEntry');

export const WaitlistPageSchema = cursorPage(WaitlistEntrySchema, {
  name: 'WaitlistPage',
  items: 'Entries, oldest first (the queue order).',
  cursorExample: EXAMPLE_CURSOR,
  maxItems: MAX_WAITLIST_PAGE_SIZE,
});

export const WaitlistEntryParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The event id.' }),
  entryId: Uuid.openapi({ param: { name: 'entryId', in: 'path' }, description: 'The waitlist entry id.' }),
});
