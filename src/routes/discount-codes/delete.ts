import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { deleteDiscountCode } from '../../services/discounts/codes.ts';
import { DiscountCodeIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/discount-codes/{id}',
  operationId: 'deleteDiscountCode',
  tags: ['Discount codes'],
  summary: 'Delete a discount code',
  description:
    'Deletes a discount code: checkouts can no longer use it; bookings that used it keep the code text and the ' +
    'amount taken off. 404 for a code of another organization. Needs `events:write`. Writes a ' +
    '`discount_code.deleted` audit row. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: DiscountCodeIdParamsSchema },
  responses: {
    204: { description: 'Deleted.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteDiscountCode({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
