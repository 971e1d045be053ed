import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { takePublicBooking } from '../../services/catalogue/limits.ts';
import { startCheckout } from '../../services/payments/checkout.ts';
import { BookingIdParamsSchema } from '../bookings/schema.ts';
import { PublicBookingHeadersSchema } from '../bookings/staff-schema.ts';
import { httpsUrl } from '../events/schema.ts';
import { Timestamp } from '../fields.ts';
import { tenantOnly } from '../organizations/host.ts';
import { requestOrigin } from '../../lib/origin.ts';
import { responseBody } from '../response.ts';

export const CheckoutRequestSchema = z
  .object({
    successUrl: httpsUrl()
      .optional()
      .openapi({
        // Stripe replaces the literal `{CHECKOUT_SESSION_ID}`; braces are not allowed in an RFC 3986 URI, so the
        // document says `uri-template` (RFC 6570), of which this is one.
        format: 'uri-template',
        description:
          'Where Stripe sends the buyer after paying (https; may contain `{CHECKOUT_SESSION_ID}`). Default: ' +
          '`https://<this host>/bookings/{id}?checkout=success&session_id={CHECKOUT_SESSION_ID}`.',
        example: 'https://tickets.example.com/orders/thanks?session_id={CHECKOUT_SESSION_ID}',
      }),
    cancelUrl: httpsUrl()
      .optional()
      .openapi({
        description:
          'Where Stripe sends the buyer who goes back without paying (https). Default: ' +
          '`https://<this host>/bookings/{id}?checkout=cancelled&session_id={CHECKOUT_SESSION_ID}`.',
        example: 'https://tickets.example.com/orders/cancelled',
      }),
  })
  .strict()
  .openapi('CheckoutRequest', {
    description: 'Optional return URLs (send `{}` for the defaults); the booking token goes in `Booking-Token`.',
  });

export const CheckoutSchema = z
  .object({
    // Stripe documents no bound on its Checkout URLs (today about 400 characters with the fragment): 4,096 is this
    // API's promise, enforced here (a longer URL fails this schema, a 500, rather than reach the buyer unchecked).
    checkoutUrl: z
      .string()
      .max(4096)
      .regex(/^https:\/\//)
      .openapi({
        description: 'The Stripe Checkout page (https): redirect the buyer there.',
        example: 'https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6g7H8',
      }),
    expiresAt: Timestamp.openapi({
      description: 'When the Checkout Session and the booking hold end (UTC).',
      example: '2026-05-01T09:31:00.000Z',
    }),
    // Stripe documents its object ids as at most 255 characters.
    sessionId: z
      .string()
      .max(255)
      .openapi({ description: 'The Stripe Checkout Session id.', example: 'cs_test_a1B2c3D4e5F6g7H8' }),
  })
  .openapi('Checkout', { description: 'A Stripe Checkout Session for a booking.' });

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/bookings/{id}/checkout',
  operationId: 'startPublicCheckout',
  tags: ['Public'],
  summary: 'Pay a booking with Stripe Checkout',
  description:
    'For a `pending` booking paid through Stripe (`payment.checkout` of the checkout response): answers the URL of a ' +
    'Stripe Checkout Session to send the buyer to. A session that has not expired is reused (the return URLs of ' +
    'later calls are then ignored); otherwise a new one is created with the booking items at the prices charged. ' +
    'Stripe keeps a session open at least 30 minutes, so the booking hold is extended to the session expiry ' +
    '(`expiresAt`). The booking is confirmed when Stripe reports the payment to the webhook, not by this call. ' +
    'A malformed token answers 400, a wrong token or unknown booking 404; a booking that is not pending, not paid ' +
    'through Stripe, expired, or of an organization that removed Stripe answers 409; Stripe refusing or not ' +
    'answering 502 ' +
    '(`payment_provider_error`; retry). No account: the booking token (`Booking-Token` header) is the credential. ' +
    'Rate limited per ' +
    'client address with the checkout limit (429 with Retry-After).',
  security: [{ bookingToken: [] }],
  request: {
    params: BookingIdParamsSchema,
    headers: PublicBookingHeadersSchema,
    body: { required: true, content: { 'application/json': { schema: CheckoutRequestSchema } } },
  },
  middleware: [tenantOnly()] as const,
  responses: {
    200: { description: 'The Checkout Session.', content: { 'application/json': { schema: CheckoutSchema } } },
    ...errorResponses(400, 404, 409, 413, 415, 429, 500, 502, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const outcome = await takePublicBooking(ctx);
    const body = c.req.valid('json');
    const checkout = await startCheckout({
      ctx,
      input: {
        ...body,
        token: c.req.valid('header')['booking-token'],
        bookingId: c.req.valid('param').id,
        origin: requestOrigin(c.req.url, ctx.bindings),
      },
    });
    return c.json(responseBody(c, CheckoutSchema, checkout), 200, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
