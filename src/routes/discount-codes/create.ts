import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { location } from '../../middleware/location.ts';
import { createDiscountCode } from '../../services/discounts/codes.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { responseBody } from '../response.ts';
import { DiscountCodeCreateSchema, DiscountCodeSchema, MAX_DISCOUNT_CODES_PER_EVENT } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/events/{id}/discount-codes',
  operationId: 'createDiscountCode',
  tags: ['Discount codes'],
  summary: 'Add a discount code',
  description:
    'Adds a discount code to an event. `percent` takes `percent` % (rounded down) off the eligible items; `fixed` ' +
    'takes `amounts[currency]` minor units off the order, never more than the eligible items cost. ' +
    '`ticketTypeIds` limits the eligible items (default: the whole order); with `unlocksHidden` the code also lets ' +
    'buyers order the hidden ones among them. The code is stored upper-cased and matched case-insensitively. ' +
    '400 with the JSON pointer: `percent` missing for `percent` (or given for `fixed`), `amounts` missing for ' +
    '`fixed`, `endsAt` not after `startsAt`, a ticket type of another event. 409 when the event already has the ' +
    `code, or has ${MAX_DISCOUNT_CODES_PER_EVENT} codes. 404 for an event of another organization. Needs ` +
    '`events:write`. Writes a `discount_code.created` audit row. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write'), location('/api/v1/discount-codes/{id}'), idempotent()] as const,
  request: {
    params: EventIdParamsSchema,
    headers: IdempotencyHeadersSchema,
    body: { required: true, content: { 'application/json': { schema: DiscountCodeCreateSchema } } },
  },
  responses: {
    201: { description: 'The new discount code.', content: { 'application/json': { schema: DiscountCodeSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const code = await createDiscountCode({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), eventId: c.req.valid('param').id },
    });
    return c.json(responseBody(c, DiscountCodeSchema, code), 201);
  });
}
