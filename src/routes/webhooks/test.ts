import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { sendTestEvent } from '../../services/webhooks/deliveries.ts';
import { requireLiveKey } from '../../middleware/auth.ts';
import { webhookAccess } from './access.ts';
import { DELIVERY_EXAMPLE, EndpointIdParamsSchema, WebhookDeliverySchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/webhooks/{id}/test',
  operationId: 'testWebhookEndpoint',
  tags: ['Webhooks'],
  summary: 'Send a test event',
  description:
    'Queues a `webhook.test` event (`data`: `endpointId`, `message`) for this endpoint only, whatever its event ' +
    'type filter, through the normal delivery path: signed, retried on failure, listed in the delivery log. The ' +
    'answer is the pending delivery; follow it in GET /api/v1/webhooks/{id}/deliveries. A disabled endpoint answers ' +
    "409; another organization's endpoint 404; 503 when the queue cannot take the message. Needs " +
    '`webhooks:manage`. Writes a `webhook_endpoint.tested` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [...webhookAccess(), requireLiveKey()],
  request: { params: EndpointIdParamsSchema },
  responses: {
    202: {
      description: 'The queued delivery of the test event.',
      content: {
        'application/json': {
          schema: WebhookDeliverySchema,
          example: {
            ...DELIVERY_EXAMPLE,
            eventType: 'webhook.test',
            status: 'pending',
            attemptCount: 0,
            lastStatusCode: null,
            attempts: [],
          },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const delivery = await sendTestEvent({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, WebhookDeliverySchema, delivery), 202);
  });
}
