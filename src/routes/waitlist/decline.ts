import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { takePublicBooking } from '../../services/catalogue/limits.ts';
import { declineWaitlistOffer } from '../../services/waitlist/join.ts';
import { BookingIdParamsSchema } from '../bookings/schema.ts';
import { PublicBookingHeadersSchema } from '../bookings/staff-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { WaitlistDeclinedSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/bookings/{id}/decline',
  operationId: 'declinePublicWaitlistOffer',
  tags: ['Public'],
  summary: 'Decline a waitlist offer',
  description:
    'Turns down a waitlist offer (free or paid) with the offer token from the offer email in the `Booking-Token` ' +
    'header: the pending booking the offer holds is cancelled and its seats are offered to the next in line at once, ' +
    'instead of when the offer would have lapsed (the entry ends as `expired`, with the `waitlist.expired` webhook ' +
    'event; `booking.cancelled` is published too). 409 when the offer is no longer open (claimed, paid, expired, ' +
    'already declined). A missing or malformed token answers 400; a wrong token, an unknown booking and a booking ' +
    'that is not a waitlist offer 404, indistinguishably. No authentication; rate limited per client address with ' +
    'the checkout limit (429 with Retry-After). One database and one Redis round trip.',
  security: [{ bookingToken: [] }],
  request: { params: BookingIdParamsSchema, headers: PublicBookingHeadersSchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: "The offer's booking is cancelled; the seats pass on.",
      content: { 'application/json': { schema: WaitlistDeclinedSchema } },
    },
    ...errorResponses(400, 404, 409, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const outcome = await takePublicBooking(ctx);
    const result = await declineWaitlistOffer({
      ctx,
      input: { id: c.req.valid('param').id, token: c.req.valid('header')['booking-token'] },
    });
    return c.json(responseBody(c, WaitlistDeclinedSchema, result), 200, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
