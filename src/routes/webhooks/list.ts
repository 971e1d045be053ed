import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { listEndpoints } from '../../services/webhooks/endpoints.ts';
import { webhookAccess } from './access.ts';
import { EndpointListQuerySchema, EXAMPLES, WebhookEndpointListSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/webhooks',
  operationId: 'listWebhookEndpoints',
  tags: ['Webhooks'],
  summary: 'List webhook endpoints',
  description:
    "The organization's webhook endpoints, oldest first, with cursor pagination (pass `nextCursor` as `cursor`). " +
    'Secrets are never listed. A malformed cursor, a `limit` outside 1..100 and any other parameter answer 400. ' +
    'Needs `webhooks:manage`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: webhookAccess(),
  request: { query: EndpointListQuerySchema },
  responses: {
    200: {
      description: 'A page of endpoints.',
      content: {
        'application/json': {
          schema: WebhookEndpointListSchema,
          example: { data: [EXAMPLES.endpoint], nextCursor: null },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listEndpoints({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, WebhookEndpointListSchema, page), 200);
  });
}
