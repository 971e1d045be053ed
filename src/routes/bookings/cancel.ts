import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireLiveKey, requirePermission } from '../../middleware/auth.ts';
import { cancelBooking } from '../../services/bookings/transitions.ts';
import { BookingIdParamsSchema, BookingSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/bookings/{id}/cancel',
  operationId: 'cancelBooking',
  tags: ['Bookings'],
  summary: 'Cancel a booking',
  description:
    'pending | confirmed -> cancelled; sets `cancelledAt`. Every valid ticket is cancelled and its seat goes back on ' +
    'sale (the held seats of a pending booking, the sold seats of a confirmed one) on the event, its ticket types ' +
    'and capacity pools; an unpaid (pending or failed) payment is cancelled. **No money moves**: the payment of a ' +
    'confirmed booking stays `succeeded`. To return the money, refund the booking instead (POST ' +
    '/api/v1/bookings/{id}/refund; a full refund also cancels the tickets): only confirmed bookings can be ' +
    'refunded. A cancelled, refunded or expired booking answers 409, as does a booking that a concurrent request ' +
    "confirmed, expired or cancelled first (the seats move exactly once). Another organization's booking answers " +
    '404. Needs `bookings:write`. Writes a `booking.cancelled` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:write'), requireLiveKey()] as const,
  request: { params: BookingIdParamsSchema },
  responses: {
    200: {
      description: 'The cancelled booking.',
      content: { 'application/json': { schema: BookingSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const booking = await cancelBooking({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, BookingSchema, booking), 200);
  });
}
