import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { openStaffStream } from '../../services/realtime/snapshots.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { streamFor } from './open.ts';
import { BOOKINGS_EXAMPLE, eventStream, LiveHeadersSchema, STREAM_CONVENTIONS } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/live/bookings',
  operationId: 'streamBookings',
  tags: ['Live'],
  summary: 'Stream the new bookings of an event',
  description:
    'A live feed of the bookings of an event for staff: a `booking` message for every booking made, confirmed, ' +
    'cancelled, refunded or expired from now on, `{ type, id, eventId, status, buyer, total, currency, items, ' +
    'createdAt, confirmedAt }` (`type` is the outbox event, the message id its id: delivery is at least once, so ' +
    'dedupe on it). No backlog: list earlier ones with `GET /api/v1/bookings?eventId=`. Needs `bookings:read` (as ' +
    'the bookings list); the session is checked at connect time and at every heartbeat, and the stream ends once ' +
    "it is revoked. Another organization's event or an unknown id answers 404. " +
    STREAM_CONVENTIONS +
    ' Connecting costs one database round trip and one Redis round trip; every heartbeat one Redis round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:read')] as const,
  request: { params: EventIdParamsSchema, headers: LiveHeadersSchema },
  responses: {
    200: {
      description: 'The stream of bookings.',
      content: eventStream('Server-Sent Events: `booking` messages, heartbeats, a final `end`.', BOOKINGS_EXAMPLE),
    },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { id } = c.req.valid('param');
    await openStaffStream(ctx.services.db, tenant.id, id, false);
    return streamFor(c, { organizationId: tenant.id, eventId: id, channel: 'bookings', first: null }, 'staff');
  });
}
