import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { getBooking } from '../../services/bookings/read.ts';
import { BookingIdParamsSchema, BookingSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/bookings/{id}',
  operationId: 'getBooking',
  tags: ['Bookings'],
  summary: 'Get a booking',
  description:
    'One booking of this organization with its items, tickets (attendees with their codes and check-in state), ' +
    "payment and refunds. Another organization's booking answers 404 like a missing one; an id that is not a UUID " +
    'answers 400. Needs `bookings:read`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:read')] as const,
  request: { params: BookingIdParamsSchema },
  responses: {
    200: {
      description: 'The booking.',
      content: { 'application/json': { schema: BookingSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const booking = await getBooking({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, BookingSchema, booking), 200);
  });
}
