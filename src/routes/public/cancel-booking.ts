import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { cancelOwnBooking } from '../../services/bookings/self-service.ts';
import { takePublicBooking } from '../../services/catalogue/limits.ts';
import { BookingIdParamsSchema } from '../bookings/schema.ts';
import { PublicBookingHeadersSchema, PublicBookingSchema } from '../bookings/staff-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/bookings/{id}/cancel',
  operationId: 'cancelPublicBooking',
  tags: ['Public'],
  summary: 'Cancel my booking (buyer self-service)',
  description:
    "The buyer cancels their booking under the event's `buyerCancellation` policy, authenticated by the " +
    '`Booking-Token` header exactly as the booking view (missing or malformed: 400; wrong token or unknown id: 404). ' +
    'Allowed for a pending or confirmed booking with no ticket checked in, until `buyerCancellationCutoffMinutes` ' +
    'before the start (the booking view shows `cancellation.allowed`, `refund` and `closesAt`). Every valid ticket ' +
    'is cancelled and its seat goes back on sale. `no_refund`, free, unpaid and manual-payment bookings: the booking ' +
    'becomes `cancelled` (a manual payment stays `succeeded`: under `full_refund` the organizer returns it outside ' +
    'Eventra); `booking.cancelled` webhook and email. A confirmed Stripe booking under `full_refund`: everything not ' +
    'refunded yet is refunded through Stripe and the booking becomes `refunded`; `booking.refunded` webhook and ' +
    'email. Refusals change nothing: 403 `self_service_not_offered` (policy `none`), 409 `self_service_closed` ' +
    '(past the cutoff), 409 `conflict` (booking already cancelled, refunded or expired, a ticket checked in, a ' +
    'concurrent change, or a Stripe refund of it still in progress), 502 when Stripe refuses or does not answer ' +
    '(refused: nothing changed, retry; no answer: the refund stays reserved and completes by itself). Not ' +
    'idempotent by key: a repeated cancel answers 409, nothing moves twice. No authentication; rate limited per ' +
    'client address with checkout (429 with Retry-After). One database and one Redis round trip; a Stripe refund ' +
    'takes five database round trips and one Stripe call.',
  security: [{ bookingToken: [] }],
  request: { params: BookingIdParamsSchema, headers: PublicBookingHeadersSchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The booking as its buyer now sees it (`cancelled`, or `refunded` after a Stripe refund).',
      content: { 'application/json': { schema: PublicBookingSchema } },
    },
    ...errorResponses(400, 403, 404, 409, 429, 502, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const input = { id: c.req.valid('param').id, token: c.req.valid('header')['booking-token'] };
    const outcome = await takePublicBooking(ctx);
    const booking = await cancelOwnBooking({ ctx, input });
    return c.json(responseBody(c, PublicBookingSchema, booking), 200, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
