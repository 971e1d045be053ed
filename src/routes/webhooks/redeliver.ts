import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { redeliver } from '../../services/webhooks/deliveries.ts';
import { requireLiveKey } from '../../middleware/auth.ts';
import { webhookAccess } from './access.ts';
import { DELIVERY_EXAMPLE, DeliveryIdParamsSchema, WebhookDeliverySchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/webhook-deliveries/{id}/redeliver',
  operationId: 'redeliverWebhook',
  tags: ['Webhooks'],
  summary: 'Send a delivery again',
  description:
    'Queues a new attempt of a delivery, in any status, with the same `webhook-id` (receivers deduplicate on it) ' +
    'and a fresh timestamp and signature: the delivery is `pending` again. The attempt number continues from the ' +
    'last; should the new attempt fail, the retry schedule continues from that number (a delivery that had used ' +
    'all 11 attempts fails again at once). A disabled endpoint answers 409 (enable it first); another ' +
    "organization's delivery 404; 503 when the queue cannot take the message. Needs `webhooks:manage`. Writes a " +
    '`webhook_delivery.redelivered` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [...webhookAccess(), requireLiveKey()],
  request: { params: DeliveryIdParamsSchema },
  responses: {
    202: {
      description: 'The delivery, pending again, with its attempts so far.',
      content: {
        'application/json': {
          schema: WebhookDeliverySchema,
          example: { ...DELIVERY_EXAMPLE, status: 'pending', nextAttemptAt: '2026-11-01T12:00:00.000Z' },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const delivery = await redeliver({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, WebhookDeliverySchema, delivery), 202);
  });
}
