import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { EXAMPLE_EVENT_ID } from '../events/schema.ts';
import { EXAMPLE_TICKET_TYPE_ID } from '../ticket-types/schema.ts';
import { int32, storedLine, Uuid } from '../fields.ts';
import { MAX_CAPACITY_POOLS_PER_EVENT } from '../../services/events/capacity-pools.ts';
import { MAX_TICKET_TYPES_PER_EVENT } from '../../services/events/ticket-types.ts';

export const EXAMPLE_CAPACITY_POOL_ID = '2e4f6a8c-0b1d-4f3e-8a5c-7e9b1d3f5a7c';
const EXAMPLE_SECOND_TICKET_TYPE_ID = '6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d';
const MAX_CAPACITY = 1_000_000;
/** A pool may hold every ticket type of its event. */
const MAX_MEMBERS = MAX_TICKET_TYPES_PER_EVENT;
const MAX_NAME_LENGTH = 200;

export const CapacityPoolSchema = z
  .object({
    id: Uuid.openapi({ description: 'Capacity pool id.', example: EXAMPLE_CAPACITY_POOL_ID }),
    eventId: Uuid.openapi({ description: 'The event it belongs to.', example: EXAMPLE_EVENT_ID }),
    name: storedLine(MAX_NAME_LENGTH).openapi({ description: 'Name.', example: 'Main hall' }),
    capacity: int32(0, MAX_CAPACITY).openapi({ description: 'Seats shared by its ticket types.', example: 300 }),
    sold: int32(0, MAX_CAPACITY).openapi({
      description: 'Seats of its ticket types in confirmed bookings.',
      example: 120,
    }),
    held: int32(0, MAX_CAPACITY).openapi({
      description: 'Seats of its ticket types held by pending bookings.',
      example: 4,
    }),
    remaining: int32(0, MAX_CAPACITY).openapi({ description: 'capacity - sold - held.', example: 176 }),
    ticketTypeIds: z
      .array(Uuid)
      .max(MAX_MEMBERS)
      .openapi({
        description: 'Its ticket types, by id (none left when all of them were deleted).',
        example: [EXAMPLE_TICKET_TYPE_ID, EXAMPLE_SECOND_TICKET_TYPE_ID],
      }),
  })
  .openapi('CapacityPool', {
    description:
      'A capacity shared by ticket types of one event (a quota): a booking must fit every pool its ticket types ' +
      'belong to, besides each ticket type quantity and the event capacity.',
  });

export type CapacityPoolResponse = z.infer<typeof CapacityPoolSchema>;

export const CapacityPoolListSchema = z
  .object({
    data: z
      .array(CapacityPoolSchema)
      .max(MAX_CAPACITY_POOLS_PER_EVENT)
      .openapi({
        description: `By creation, oldest first. All of them: an event has at most ${MAX_CAPACITY_POOLS_PER_EVENT}.`,
      }),
  })
  .openapi('CapacityPoolList');

export type CapacityPoolListResponse = z.infer<typeof CapacityPoolListSchema>;

export const EXAMPLE_CAPACITY_POOL: CapacityPoolResponse = {
  id: EXAMPLE_CAPACITY_POOL_ID,
  eventId: EXAMPLE_EVENT_ID,
  name: 'Main hall',
  capacity: 300,
  sold: 120,
  held: 4,
  remaining: 176,
  ticketTypeIds: [EXAMPLE_TICKET_TYPE_ID, EXAMPLE_SECOND_TICKET_TYPE_ID],
};

export const CapacityPoolIdParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The capacity pool id (a UUID; anything else answers 400).',
    example: EXAMPLE_CAPACITY_POOL_ID,
  }),
});

const fields = {
  name: z
    .string()
    .trim()
    .min(1)
    .max(MAX_NAME_LENGTH)
    .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
    .openapi({ description: 'Name, 1 to 200 characters.', example: 'Main hall' }),
  capacity: int32(0, MAX_CAPACITY).openapi({
    description: `Seats shared by the ticket types, 0 to ${MAX_CAPACITY}; never below what they have sold or held.`,
    example: 300,
  }),
  ticketTypeIds: z
    .array(Uuid)
    .min(1)
    .max(MAX_MEMBERS)
    .openapi({
      description: `1 to ${MAX_MEMBERS} distinct ticket types of this event.`,
      example: [EXAMPLE_TICKET_TYPE_ID, EXAMPLE_SECOND_TICKET_TYPE_ID],
    }),
};

export const CapacityPoolCreateSchema = z
  .object({ name: fields.name, capacity: fields.capacity, ticketTypeIds: fields.ticketTypeIds })
  .strict()
  .openapi('CapacityPoolCreate', { description: 'A new capacity pool. `sold`, `held` and ids are not accepted.' });

export const CapacityPoolUpdateSchema = z
  .object({
    name: fields.name.optional(),
    capacity: fields.capacity.optional(),
    ticketTypeIds: fields.ticketTypeIds.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'Give at least one field to change.' })
  .openapi('CapacityPoolUpdate', {
    description: 'The fields to change; `ticketTypeIds` replaces the whole list. Nothing else is accepted.',
  });
