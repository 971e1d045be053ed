import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listDiscountCodes } from '../../services/discounts/codes.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { responseBody } from '../response.ts';
import { DiscountCodeListSchema, MAX_DISCOUNT_CODES_PER_EVENT } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/discount-codes',
  operationId: 'listDiscountCodes',
  tags: ['Discount codes'],
  summary: 'List discount codes',
  description:
    `The event's discount codes (at most ${MAX_DISCOUNT_CODES_PER_EVENT}, oldest first, not paginated) with their ` +
    'use counts. 404 for an event of another organization. Needs `events:read`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    200: { description: 'The codes.', content: { 'application/json': { schema: DiscountCodeListSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const data = await listDiscountCodes({ ctx: serviceContext(c), input: { eventId: c.req.valid('param').id } });
    return c.json(responseBody(c, DiscountCodeListSchema, { data }), 200);
  });
}
