import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { updateOwnAttendee } from '../../services/bookings/self-service.ts';
import { takePublicBooking } from '../../services/catalogue/limits.ts';
import { NameSchema, Uuid } from '../fields.ts';
import { AnswersSchema, BookingIdParamsSchema } from '../bookings/schema.ts';
import { PublicBookingHeadersSchema, PublicBookingSchema } from '../bookings/staff-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

const AttendeeParamsSchema = BookingIdParamsSchema.extend({
  attendeeId: Uuid.openapi({
    param: { name: 'attendeeId', in: 'path' },
    description: 'The ticket (attendee) id, from the booking view (a UUID; anything else answers 400).',
    example: '7b1f3c2a-9d4e-4f5a-8b6c-1d2e3f4a5b6c',
  }),
});

export const PublicAttendeeUpdateSchema = z
  .object({
    name: NameSchema.optional().openapi({ description: "The ticket holder's name.", example: 'Grace Hopper' }),
    answers: AnswersSchema.optional().openapi({
      description:
        "The ticket's answers to the event's attendee questions, by key: they replace its answers to the live " +
        'questions of its ticket type, checked as at checkout (a required question must be answered again). ' +
        'Answers to archived questions are kept.',
      example: { tshirt: 'L' },
    }),
  })
  .strict()
  .refine((body) => body.name !== undefined || body.answers !== undefined, {
    message: 'Give name, answers or both.',
  })
  .openapi('PublicAttendeeUpdate', {
    description:
      "The ticket holder's new name, new answers, or both. Not the email: the holder's email says whom the ticket " +
      'belongs to; changing it is a transfer, not an edit. Nothing else is accepted.',
    example: { name: 'Grace Hopper', answers: { tshirt: 'L' } },
  });

export const route = createRoute({
  method: 'patch',
  path: '/api/v1/public/bookings/{id}/attendees/{attendeeId}',
  operationId: 'updatePublicBookingAttendee',
  tags: ['Public'],
  summary: 'Edit a ticket of my booking: name and answers (buyer self-service)',
  description:
    "The buyer changes the name on one ticket of their booking, or its answers to the event's attendee questions " +
    '(checked as at checkout: 400 with the pointer `/body/answers/<key>`), authenticated by the `Booking-Token` header exactly ' +
    'as the booking view (missing or malformed: 400; wrong token, unknown booking, or a ticket of another booking: ' +
    "404). Allowed until the event's `attendeeEditCutoffMinutes` before the start (the booking view shows " +
    '`attendeeEditsCloseAt`), for a valid ticket not checked in of a pending or confirmed booking. Refusals change ' +
    'nothing: 403 `self_service_not_offered` (the event does not let buyers edit tickets), 409 ' +
    '`self_service_closed` (past the cutoff), 409 `conflict` (booking not pending or confirmed, ticket cancelled or ' +
    'checked in, also when that happened concurrently). Writes an `attendee.updated` audit row (the fields changed, ' +
    'not their values) and the `attendee.updated` webhook event. No authentication; rate limited per client address ' +
    'with checkout (429 with Retry-After). One database and one Redis round trip.',
  security: [{ bookingToken: [] }],
  request: {
    params: AttendeeParamsSchema,
    headers: PublicBookingHeadersSchema,
    body: { required: true, content: { 'application/json': { schema: PublicAttendeeUpdateSchema } } },
  },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The booking as its buyer now sees it, with the edited ticket.',
      content: { 'application/json': { schema: PublicBookingSchema } },
    },
    ...errorResponses(400, 403, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const params = c.req.valid('param');
    const input = {
      id: params.id,
      attendeeId: params.attendeeId,
      token: c.req.valid('header')['booking-token'],
      ...c.req.valid('json'),
    };
    const outcome = await takePublicBooking(ctx);
    const booking = await updateOwnAttendee({ ctx, input });
    return c.json(responseBody(c, PublicBookingSchema, booking), 200, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
