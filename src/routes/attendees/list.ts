import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listEventAttendees } from '../../services/bookings/attendees.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { responseBody } from '../response.ts';
import {
  eventAttendeeListInput,
  EventAttendeeListQuerySchema,
  EventAttendeeListSchema,
  MAX_ATTENDEE_PAGE_SIZE,
} from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/attendees',
  operationId: 'listEventAttendees',
  tags: ['Attendees'],
  summary: "List an event's attendees (the door list)",
  description:
    "The event's tickets with their check-in state: name, email, ticket code, ticket type, booking and whether and " +
    'when each was checked in. By default only tickets of confirmed bookings (those check-in admits; cancelled ' +
    'tickets of a partly refunded booking included, with `status: cancelled`); `bookingStatus` lists another status. ' +
    'Search with `q` (part of the name or email, case-insensitive, or an exact ticket code, normalized as at ' +
    'check-in); filter with `ticketTypeId` and `checkedIn`. Ordered by booking time, then ticket id, with cursor ' +
    'pagination: pass `nextCursor` as `cursor` (with the same filters) for the next page. An unknown event or ' +
    `another organization's answers 404. Only these parameters exist; any other answers 400, as do a malformed ` +
    `cursor, a cursor of another \`sort\` and a \`limit\` outside 1..${MAX_ATTENDEE_PAGE_SIZE} (never clamped). ` +
    'Needs `bookings:read` (door staff hold it). One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:read')] as const,
  request: { params: EventIdParamsSchema, query: EventAttendeeListQuerySchema },
  responses: {
    200: {
      description: "A page of the event's tickets.",
      content: { 'application/json': { schema: EventAttendeeListSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listEventAttendees({
      ctx: serviceContext(c),
      input: eventAttendeeListInput(c.req.valid('param').id, c.req.valid('query')),
    });
    return c.json(responseBody(c, EventAttendeeListSchema, page), 200);
  });
}
