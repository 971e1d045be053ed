import { z } from '@hono/zod-openapi';
import { EmailSchema, NameSchema } from '../auth/schema.ts';
import { int32, Uuid } from '../fields.ts';

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
