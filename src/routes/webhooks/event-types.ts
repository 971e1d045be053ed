import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { EVENT_PAYLOAD_VERSION, EVENT_TYPES } from '../../services/outbox/catalogue.ts';
import { webhookAccess } from './access.ts';
import { EventTypeListSchema } from './schema.ts';

const EVENT_TYPE_LIST = {
  version: EVENT_PAYLOAD_VERSION,
  data: Object.entries(EVENT_TYPES).map(([type, description]) => ({ type, description })),
};

export const route = createRoute({
  method: 'get',
  path: '/api/v1/webhooks/event-types',
  operationId: 'listWebhookEventTypes',
  tags: ['Webhooks'],
  summary: 'List event types',
  description:
    'The event catalogue: every type an endpoint can filter on (`eventTypes`), with what its `data` holds. Each ' +
    'webhook body is `{ type, timestamp, data }`. `webhook.test` (POST /api/v1/webhooks/{id}/test) is not listed: ' +
    'it is sent on request only, whatever the filter. Needs `webhooks:manage`. No database access.',
  security: [{ bearerAuth: [] }],
  middleware: webhookAccess(),
  responses: {
    200: {
      description: 'The event types.',
      content: { 'application/json': { schema: EventTypeListSchema, example: EVENT_TYPE_LIST } },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, (c) => c.json(EVENT_TYPE_LIST, 200));
}
