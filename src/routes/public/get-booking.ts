import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { getPublicBooking } from '../../services/bookings/public-view.ts';
import { publicRead } from '../../services/catalogue/limits.ts';
import { BookingIdParamsSchema } from '../bookings/schema.ts';
import { PublicBookingHeadersSchema, PublicBookingQuerySchema, PublicBookingSchema } from '../bookings/staff-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/public/bookings/{id}',
  operationId: 'getPublicBooking',
  tags: ['Public'],
  summary: "Get a booking (the buyer's view)",
  description:
    "The buyer's view of a booking, reached with the secret `token` returned by the checkout, sent in the " +
    '`Booking-Token` request header (never in the URL: a `token` query parameter answers 400): status, tickets ' +
    '(with their codes and check-in state), items, payment status and refunds, without internal payment or provider ' +
    "ids, and the event (title, slug, status, times, timezone, venue). The event's `onlineUrl` is revealed only " +
    'while the booking is confirmed; it is null while payment is pending and after a cancellation, expiry or full ' +
    'refund. `cancellation` (`allowed`, `refund`, `closesAt`) and `attendeeEditsCloseAt` say what the buyer may do ' +
    "now under the event's self-service rules, computed in the same read. A missing or malformed token answers " +
    '400; a well-formed wrong token and an unknown id both answer 404, ' +
    'indistinguishably. No authentication; rate limited ' +
    'per client address (429 with Retry-After). Never cached (`Cache-Control: no-store`). One database round trip ' +
    'and one Redis round trip.',
  security: [{ bookingToken: [] }],
  request: { params: BookingIdParamsSchema, headers: PublicBookingHeadersSchema, query: PublicBookingQuerySchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The booking and its event.',
      content: { 'application/json': { schema: PublicBookingSchema } },
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const input = { id: c.req.valid('param').id, token: c.req.valid('header')['booking-token'] };
    const { outcome, result: booking } = await publicRead(ctx, () => getPublicBooking({ ctx, input }));
    return c.json(responseBody(c, PublicBookingSchema, booking), 200, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
