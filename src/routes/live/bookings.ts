import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { requireEvent } from '../../services/realtime/snapshots.ts';
import { streamFor } from './open.ts';
import { BOOKINGS_EXAMPLE, staffStreamRoute } from './schema.ts';

export const route = staffStreamRoute({
  kind: 'bookings',
  operationId: 'streamBookings',
  summary: 'Stream the new bookings of an event',
  description:
    'A live feed of the bookings of an event for staff: a `booking` message for every booking made, confirmed, ' +
    'cancelled, refunded or expired from now on, `{ type, id, eventId, status, buyer, total, currency, items, ' +
    'createdAt, confirmedAt }` (`type` is the outbox event, the message id its id: delivery is at least once, so ' +
    'dedupe on it); no tickets, codes or payment details. No backlog: list earlier ones with ' +
    '`GET /api/v1/bookings?eventId=`, whose permission this needs.',
  permission: 'bookings:read',
  example: BOOKINGS_EXAMPLE,
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { id } = c.req.valid('param');
    await requireEvent(ctx.services.db, tenant.id, id);
    return streamFor(c, { organizationId: tenant.id, eventId: id, channel: 'bookings', first: null }, 'staff');
  });
}
