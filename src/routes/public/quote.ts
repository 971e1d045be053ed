import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { PUBLIC_READ_LIMIT } from '../../services/catalogue/limits.ts';
import { recordDiscountFailure, takePublicWithCode } from '../../services/discounts/limits.ts';
import { quoteOrder } from '../../services/discounts/quote.ts';
import { MAX_ITEMS_PER_ORDER, MAX_TICKETS_PER_ORDER } from '../bookings/schema.ts';
import { DiscountCodeString } from '../discount-codes/schema.ts';
import { int32, StoredCurrencyCode, Uuid } from '../fields.ts';
import { MAX_PRICE } from '../ticket-types/schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { PublicEventParamsSchema } from './schema.ts';

const QuoteRequestSchema = z
  .object({
    items: z
      .array(z.object({ ticketTypeId: Uuid, quantity: int32(1, MAX_TICKETS_PER_ORDER) }).strict())
      .min(1)
      .max(MAX_ITEMS_PER_ORDER),
    accessCode: z.string().min(1).max(100).optional(),
    discountCode: DiscountCodeString.optional(),
  })
  .strict()
  .openapi('QuoteRequest', {
    example: {
      items: [{ ticketTypeId: '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f', quantity: 2 }],
      discountCode: 'early26',
    },
  });

const QuoteSchema = z
  .object({
    currency: StoredCurrencyCode,
    subtotal: int32(0).openapi({ description: 'Price x quantity, summed (minor units).' }),
    discount: int32(0).openapi({ description: 'Taken off by the discount code (minor units).' }),
    total: int32(0).openapi({ description: 'What the checkout would charge: subtotal - discount, never below 0.' }),
    discountCode: z.string().max(40).nullable().openapi({ description: 'The code applied (upper-cased), or null.' }),
    items: z
      .array(
        z.object({ ticketTypeId: Uuid, quantity: int32(1, MAX_TICKETS_PER_ORDER), unitPrice: int32(0, MAX_PRICE) }),
      )
      .max(MAX_ITEMS_PER_ORDER),
  })
  .openapi('Quote');

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/events/{slug}/quote',
  operationId: 'quotePublicOrder',
  tags: ['Public'],
  summary: 'Price an order (with a discount code)',
  description:
    'The subtotal, discount and total an order would have at checkout now, computed by the same query as the ' +
    'checkout; writes nothing and holds no seats (seats, sales windows and per-order limits are checked only at ' +
    'checkout). 404 for an unknown slug; 400 with the JSON pointer for a ticket type not on sale to the caller ' +
    '(another event, or hidden without its `accessCode` or a discount code that unlocks it); 422 ' +
    '`discount_code_invalid` for a code that does not apply, whatever the reason (unknown, outside its window, used ' +
    'up, too few eligible tickets, no amount in the currency). Failed codes are counted per client address: after ' +
    '10 in 15 minutes, requests with a code answer 429 until the window ends. No authentication; counts against the ' +
    'public read limit. One database round trip and one Redis round trip (a second one only to count a failed code).',
  request: {
    params: PublicEventParamsSchema,
    body: { required: true, content: { 'application/json': { schema: QuoteRequestSchema } } },
  },
  middleware: [tenantOnly()] as const,
  responses: {
    200: { description: 'The price.', content: { 'application/json': { schema: QuoteSchema } } },
    ...errorResponses(400, 404, 413, 415, 422, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const body = c.req.valid('json');
    const [limit, quoted] = await Promise.allSettled([
      takePublicWithCode(ctx, PUBLIC_READ_LIMIT, body.discountCode !== undefined),
      quoteOrder({ ctx, input: { ...body, slug: c.req.valid('param').slug } }),
    ]);
    if (limit.status === 'rejected') throw limit.reason;
    if (quoted.status === 'rejected') {
      if (quoted.reason instanceof ApiError && quoted.reason.code === 'discount_code_invalid') {
        await recordDiscountFailure(ctx);
      }
      throw quoted.reason;
    }
    const headers: Record<string, string> = {
      'cache-control': 'no-store',
      ...(limit.value === null ? {} : rateLimitHeaders(limit.value)),
    };
    return c.json(responseBody(c, QuoteSchema, quoted.value), 200, headers);
  });
}
