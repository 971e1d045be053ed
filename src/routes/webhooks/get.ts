import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { getEndpoint } from '../../services/webhooks/endpoints.ts';
import { webhookAccess } from './access.ts';
import { EndpointIdParamsSchema, EXAMPLES, WebhookEndpointSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/webhooks/{id}',
  operationId: 'getWebhookEndpoint',
  tags: ['Webhooks'],
  summary: 'Get a webhook endpoint',
  description:
    "One endpoint, without its secret. Another organization's endpoint answers 404 like a missing one. Needs " +
    '`webhooks:manage`.',
  security: [{ bearerAuth: [] }],
  middleware: webhookAccess(),
  request: { params: EndpointIdParamsSchema },
  responses: {
    200: {
      description: 'The endpoint.',
      content: { 'application/json': { schema: WebhookEndpointSchema, example: EXAMPLES.endpoint } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const endpoint = await getEndpoint({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, WebhookEndpointSchema, endpoint), 200);
  });
}
