import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { takePublicBooking } from '../../services/catalogue/limits.ts';
import { claimWaitlistOffer } from '../../services/waitlist/join.ts';
import { BookingIdParamsSchema } from '../bookings/schema.ts';
import { PublicBookingHeadersSchema } from '../bookings/staff-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { WaitlistClaimedSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/bookings/{id}/claim',
  operationId: 'claimPublicWaitlistOffer',
  tags: ['Public'],
  summary: 'Claim a free waitlist offer',
  description:
    'Confirms the pending booking a waitlist offer holds, with the offer token from the offer email in the ' +
    '`Booking-Token` header (the booking id and token come in the claim link). The seats are already held for the ' +
    'offer, so a claim cannot be sold out; the tickets are emailed (`booking.confirmed`). Only free offers are ' +
    'claimed here: a paid offer is claimed by paying its booking like any pending booking ' +
    '(`POST /api/v1/public/bookings/{id}/checkout`, or the manual instructions), and answers 409 here. 409 too when ' +
    'the offer is no longer open (already claimed, expired, declined, cancelled): a claim works once. A missing or malformed ' +
    'token answers 400; a wrong token, an unknown booking and a booking that is not a waitlist offer 404, ' +
    'indistinguishably. No authentication; rate limited per client address with the checkout limit (429 with ' +
    'Retry-After). One database and one Redis round trip.',
  security: [{ bookingToken: [] }],
  request: { params: BookingIdParamsSchema, headers: PublicBookingHeadersSchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The booking is confirmed.',
      content: { 'application/json': { schema: WaitlistClaimedSchema } },
    },
    ...errorResponses(400, 404, 409, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const outcome = await takePublicBooking(ctx);
    const result = await claimWaitlistOffer({
      ctx,
      input: { id: c.req.valid('param').id, token: c.req.valid('header')['booking-token'] },
    });
    return c.json(responseBody(c, WaitlistClaimedSchema, result), 200, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
