import { z } from '@hono/zod-openapi';
import { AnswersSchema, AttendeeSchema, BOOKING_STATUSES, EXAMPLE_BOOKING_ID } from '../bookings/schema.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import type { ListEventAttendeesInput } from '../../services/bookings/attendees.ts';
import { storedLine, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams, sortParam } from '../pagination.ts';
import { MAX_NAME_LENGTH as MAX_TICKET_TYPE_NAME_LENGTH } from '../ticket-types/schema.ts';

export const DEFAULT_ATTENDEE_PAGE_SIZE = 20;
export const MAX_ATTENDEE_PAGE_SIZE = 100;
/** The longest search term: an attendee's name is at most 200 characters, an email at most 254. */
export const MAX_ATTENDEE_SEARCH_LENGTH = 254;

const EXAMPLE_ATTENDEE_ID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const EXAMPLE_TICKET_TYPE_ID = '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f';
const EXAMPLE_CURSOR =
  'WyIyMDI2LTA2LTAxVDA5OjAwOjAwLjAwMDAwMFoiLCI5YThiN2M2ZC01ZTRmLTRhM2ItOGMyZC0xZTBmOWE4YjdjNmQiLCJib29rZWRBdCJd';

export const ATTENDEE_SORTS = ['bookedAt', '-bookedAt'] as const;

export const EventAttendeeListQuerySchema = z
  .object({
    q: z
      .string()
      .trim()
      .min(1)
      .max(MAX_ATTENDEE_SEARCH_LENGTH)
      .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
      .optional()
      .openapi({
        param: { name: 'q', in: 'query' },
        description:
          'Search: tickets whose name or email contains this text (case-insensitive; `%` and `_` match literally), ' +
          'or whose ticket code is exactly this code (case, spaces and dashes ignored, as at check-in). Surrounding ' +
          `spaces are trimmed; 1 to ${MAX_ATTENDEE_SEARCH_LENGTH} characters, no control characters.`,
        example: 'lovelace',
      }),
    ticketTypeId: Uuid.optional().openapi({
      param: { name: 'ticketTypeId', in: 'query' },
      description: 'Only tickets of this ticket type (one of another event lists nothing).',
      example: EXAMPLE_TICKET_TYPE_ID,
    }),
    checkedIn: z
      .enum(['true', 'false'])
      .optional()
      .openapi({
        param: { name: 'checkedIn', in: 'query' },
        description: '`true`: only tickets already checked in; `false`: only those not checked in yet.',
        example: 'false',
      }),
    bookingStatus: z
      .enum(BOOKING_STATUSES)
      .default('confirmed')
      .openapi({
        param: { name: 'bookingStatus', in: 'query' },
        description:
          'Only tickets of bookings in this status. Default `confirmed`: the tickets that may enter (check-in ' +
          'refuses the others); `pending` lists tickets still awaiting payment, `cancelled`, `refunded` and ' +
          '`expired` those that lapsed.',
        example: 'confirmed',
      }),
    ...pageParams({
      defaultSize: DEFAULT_ATTENDEE_PAGE_SIZE,
      maxSize: MAX_ATTENDEE_PAGE_SIZE,
      cursorExample: EXAMPLE_CURSOR,
    }),
    sort: sortParam(
      ATTENDEE_SORTS,
      "Order of the tickets by their booking's creation (`bookedAt`), the ticket id breaking ties.",
    ),
  })
  // Only these filters exist: any other query parameter answers 400.
  .strict();

export const EventAttendeeSchema = z
  .object({
    id: AttendeeSchema.shape.id.openapi({ description: 'The ticket (attendee) id.', example: EXAMPLE_ATTENDEE_ID }),
    name: AttendeeSchema.shape.name.openapi({ description: 'Who the ticket is for.', example: 'Ada Lovelace' }),
    email: AttendeeSchema.shape.email.openapi({ description: 'Their email address (lowercased).' }),
    ticketCode: AttendeeSchema.shape.ticketCode.openapi({
      description: 'The code scanned at check-in (staff see it, as in the booking view).',
    }),
    status: AttendeeSchema.shape.status.openapi({
      description: '`cancelled` once a refund or cancellation cancelled the ticket (check-in refuses it).',
    }),
    ticketType: z
      .object({
        id: Uuid.openapi({ example: EXAMPLE_TICKET_TYPE_ID }),
        name: storedLine(MAX_TICKET_TYPE_NAME_LENGTH).openapi({ example: 'General admission' }),
      })
      .openapi({ description: 'The ticket type.' }),
    booking: z
      .object({
        id: Uuid.openapi({ example: EXAMPLE_BOOKING_ID }),
        status: z.enum(BOOKING_STATUSES),
      })
      .openapi({ description: 'The booking the ticket belongs to, and its status.' }),
    checkedIn: z.boolean().openapi({ description: 'Whether the ticket has been checked in.', example: false }),
    checkedInAt: Timestamp.nullable().openapi({
      description: 'When it was checked in (the first scan); null until then.',
    }),
    createdAt: Timestamp.openapi({ description: 'When the ticket was created (with its booking).' }),
  })
  .openapi('EventAttendee', { description: 'A ticket of the event and its check-in state: the door list.' });

export const EventAttendeeListSchema = cursorPage(EventAttendeeSchema, {
  name: 'EventAttendeeList',
  items: 'Tickets, in the `sort` order (oldest booking first by default).',
  cursorExample: EXAMPLE_CURSOR,
  description: "A page of the event's tickets.",
});

export type EventAttendeeListQuery = z.infer<typeof EventAttendeeListQuerySchema>;

/** The list service's input from the event id and the checked query (`checkedIn` as the boolean it spells). */
export function eventAttendeeListInput(eventId: string, query: EventAttendeeListQuery): ListEventAttendeesInput {
  const { checkedIn, ...rest } = query;
  return { ...rest, eventId, ...(checkedIn === undefined ? {} : { checkedIn: checkedIn === 'true' }) };
}
export type EventAttendeeResponse = z.infer<typeof EventAttendeeSchema>;
export type EventAttendeeListResponse = z.infer<typeof EventAttendeeListSchema>;

/** The export's query: the list's filters (no search, no paging) and the format. */
export const AttendeeExportQuerySchema = EventAttendeeListQuerySchema.pick({
  ticketTypeId: true,
  checkedIn: true,
  bookingStatus: true,
})
  .extend({
    format: z
      .enum(['csv', 'json'])
      .default('csv')
      .openapi({
        param: { name: 'format', in: 'query' },
        description: '`csv` (default) or `json`.',
        example: 'csv',
      }),
  })
  // Only these parameters exist: any other answers 400.
  .strict();

export const ExportedAttendeeSchema = EventAttendeeSchema.extend({
  answers: AnswersSchema.openapi({ description: "The ticket's answers to the event's attendee questions, by key." }),
  bookingAnswers: AnswersSchema.openapi({
    description: "The booking's answers to the event's booking questions, by key (the same on each of its tickets).",
  }),
}).openapi('ExportedAttendee', { description: 'A ticket of the event as exported: the door list entry and answers.' });
