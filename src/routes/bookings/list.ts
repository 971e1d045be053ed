import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listBookings } from '../../services/bookings/list.ts';
import { BookingListQuerySchema, BookingListSchema } from './staff-schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/bookings',
  operationId: 'listBookings',
  tags: ['Bookings'],
  summary: 'List bookings',
  description:
    "The organization's bookings of every status, newest first (then by id), with cursor pagination: pass " +
    '`nextCursor` as `cursor` for the next page. Filters: `eventId`, `status`, `email` (the buyer, exact and ' +
    'case-insensitive). Each item is the booking and its items; get one booking for its tickets, payment and ' +
    'refunds. Only these parameters exist; any other answers 400, as do a malformed cursor or email and a `limit` ' +
    'outside 1..100 (never clamped). Needs `bookings:read`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:read')] as const,
  request: { query: BookingListQuerySchema },
  responses: {
    200: {
      description: 'A page of bookings.',
      content: { 'application/json': { schema: BookingListSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listBookings({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, BookingListSchema, page), 200);
  });
}
