import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { idempotencyKey, requestHash } from '../../lib/idempotency.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { createBooking } from '../../services/bookings/create.ts';
import { PUBLIC_BOOKING_LIMIT } from '../../services/catalogue/limits.ts';
import { recordDiscountFailure, takePublicWithCode } from '../../services/discounts/limits.ts';
import { ApiError } from '../../errors/api-error.ts';
import { BookingCreateSchema, CreatedBookingSchema } from '../bookings/schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { PublicEventParamsSchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/events/{slug}/bookings',
  operationId: 'createPublicBooking',
  tags: ['Public'],
  summary: 'Book tickets (checkout)',
  description:
    'Creates a booking for a published `public` or `unlisted` event. The server computes the total from the ticket ' +
    'types; a free order is `confirmed` at once, a paid one is `pending` and holds its seats until `expiresAt` ' +
    '(15 minutes by default, 30 with Stripe Checkout, 2 days for manual payment), after which it expires and the ' +
    'seats go back on sale. Seats are taken atomically at every level (event capacity, ticket type quantity, ' +
    'shared capacity pools): concurrent buyers can never oversell, and a refused order changes nothing. ' +
    '409 `sold_out` when the seats are not there; 409 when the event or a ticket type is not on sale; 400 for a ' +
    'ticket type of another event, a hidden one without its `accessCode`, or a quantity outside its per-order ' +
    'limits; 422 when no payment method accepts the order (manual payment only where the organization enabled ' +
    'it). Unpaid holds are bounded: 409 `unpaid_hold_limit` when the event already has 3 pending orders from the ' +
    "client's address (an IPv6 client's /64) or 2 for the buyer's email, or when that address's pending seats " +
    'would exceed a quarter of the capacity (at least 10 seats allowed). With `discountCode`, the total is after ' +
    'the discount (see `POST /api/v1/public/events/{slug}/quote`) and the code takes one use atomically: a code ' +
    'with `maxUses` is never used more often, even by concurrent buyers; one that does not apply answers 422 ' +
    '`discount_code_invalid` whatever the reason, and failed codes are rate limited per address (429). Send an `Idempotency-Key` to make retries safe. No ' +
    'authentication; rate limited per client address (429 with Retry-After). One database round trip and one ' +
    'Redis round trip.',
  request: {
    params: PublicEventParamsSchema,
    headers: IdempotencyHeadersSchema,
    body: { required: true, content: { 'application/json': { schema: BookingCreateSchema } } },
  },
  middleware: [tenantOnly(), location('/api/v1/public/bookings/{id}')] as const,
  responses: {
    201: {
      description: 'The booking (or, with a reused Idempotency-Key and the same body, the first response again).',
      content: { 'application/json': { schema: CreatedBookingSchema } },
    },
    ...errorResponses(400, 404, 409, 413, 415, 422, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const key = idempotencyKey(c.req.valid('header')['idempotency-key']);
    const body = c.req.valid('json');
    // With a discount code, the same Redis round trip also checks the address's failed-code bucket.
    const outcome = await takePublicWithCode(ctx, PUBLIC_BOOKING_LIMIT, body.discountCode !== undefined);
    const result = await createBooking({
      ctx,
      input: {
        ...body,
        slug: c.req.valid('param').slug,
        idempotency:
          key === undefined
            ? undefined
            : { key, requestHash: await requestHash('POST', c.req.path, await c.req.text()) },
      },
    }).catch(async (error: unknown) => {
      if (error instanceof ApiError && error.code === 'discount_code_invalid') await recordDiscountFailure(ctx);
      throw error;
    });
    const headers: Record<string, string> = {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
      ...(result.replayed ? { 'idempotent-replayed': 'true' } : {}),
    };
    return c.json(responseBody(c, CreatedBookingSchema, result.body), 201, headers);
  });
}
