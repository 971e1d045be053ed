import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { updateDiscountCode } from '../../services/discounts/codes.ts';
import { responseBody } from '../response.ts';
import { DiscountCodeIdParamsSchema, DiscountCodeSchema, DiscountCodeUpdateSchema } from './schema.ts';

export const route = createRoute({
  method: 'patch',
  path: '/api/v1/discount-codes/{id}',
  operationId: 'updateDiscountCode',
  tags: ['Discount codes'],
  summary: 'Change a discount code',
  description:
    'Changes the given fields of a discount code; `null` clears a window bound or a limit. The code text and its ' +
    'kind are fixed (delete the code and add another). Bookings that already used the code keep what they got; a ' +
    '`maxUses` below the current `uses` only stops new uses. The changed code is checked as a whole, 400 with the ' +
    'JSON pointer: `percent` on a fixed code or `amounts` on a percent code, `endsAt` not after `startsAt`, ' +
    '`unlocksHidden` without ticket types, a ticket type of another event, an empty body. 404 for a code of another ' +
    'organization. Needs `events:write`. Writes a `discount_code.updated` audit row (the fields changed). One ' +
    'database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    params: DiscountCodeIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: DiscountCodeUpdateSchema } } },
  },
  responses: {
    200: {
      description: 'The code after the change, with its uses.',
      content: { 'application/json': { schema: DiscountCodeSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const code = await updateDiscountCode({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, changes: c.req.valid('json') },
    });
    return c.json(responseBody(c, DiscountCodeSchema, code), 200);
  });
}
