import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { deleteEndpoint } from '../../services/webhooks/endpoints.ts';
import { webhookWriteAccess } from './access.ts';
import { EndpointIdParamsSchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/webhooks/{id}',
  operationId: 'deleteWebhookEndpoint',
  tags: ['Webhooks'],
  summary: 'Delete a webhook endpoint',
  description:
    "Deletes the endpoint with its delivery log; queued attempts are dropped. Another organization's endpoint " +
    'answers 404 and nothing changes. Needs `webhooks:manage`. Writes a `webhook_endpoint.deleted` audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: webhookWriteAccess(),
  request: { params: EndpointIdParamsSchema },
  responses: {
    204: { description: 'The endpoint is gone.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteEndpoint({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
