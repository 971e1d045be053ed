import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { listDeliveries } from '../../services/webhooks/deliveries.ts';
import { webhookAccess } from './access.ts';
import {
  DeliveryListQuerySchema,
  DELIVERY_EXAMPLE,
  EndpointIdParamsSchema,
  WebhookDeliveryListSchema,
} from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/webhooks/{id}/deliveries',
  operationId: 'listWebhookDeliveries',
  tags: ['Webhooks'],
  summary: 'List the deliveries of an endpoint',
  description:
    'The delivery log of one endpoint, newest first, with cursor pagination (pass `nextCursor` as `cursor`); each ' +
    'delivery with its latest attempts (up to 20, newest first: status, duration, the first 256 bytes of the answer ' +
    'and none of a redirect, the error). Filter: `status`. A malformed cursor, a `limit` outside 1..100 and any ' +
    "other parameter answer 400; another organization's endpoint 404. Needs `webhooks:manage`. One database round trip.",
  security: [{ bearerAuth: [] }],
  middleware: webhookAccess(),
  request: { params: EndpointIdParamsSchema, query: DeliveryListQuerySchema },
  responses: {
    200: {
      description: 'A page of deliveries.',
      content: {
        'application/json': {
          schema: WebhookDeliveryListSchema,
          example: { data: [DELIVERY_EXAMPLE], nextCursor: null },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listDeliveries({
      ctx: serviceContext(c),
      input: { ...c.req.valid('query'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, WebhookDeliveryListSchema, page), 200);
  });
}
