import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { updateEndpoint } from '../../services/webhooks/endpoints.ts';
import { webhookWriteAccess } from './access.ts';
import { EndpointIdParamsSchema, EndpointUpdateSchema, EXAMPLES, WebhookEndpointSchema } from './schema.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/webhooks/{id}',
  operationId: 'updateWebhookEndpoint',
  tags: ['Webhooks'],
  summary: 'Change a webhook endpoint',
  description:
    'Changes the given fields (a partial update): `url` (same rules as on create, 400 otherwise), `description`, ' +
    '`eventTypes` (replaces the filter; empty: every type), `enabled`. Enabling an endpoint, or giving it a new URL, ' +
    'clears `disabledReason` and `failingSince`; pending deliveries of a disabled endpoint have failed and can be ' +
    "sent again with redeliver. Another organization's endpoint answers 404. Needs `webhooks:manage`. Writes a " +
    '`webhook_endpoint.updated` audit row with the values before (nothing when nothing changes).' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: webhookWriteAccess(),
  request: {
    params: EndpointIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: EndpointUpdateSchema,
          examples: {
            enable: { summary: 'Enable again', value: { enabled: true } },
            filter: { summary: 'Change the filter', value: { eventTypes: ['booking.confirmed'] } },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The endpoint after the change.',
      content: { 'application/json': { schema: WebhookEndpointSchema, example: EXAMPLES.endpoint } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const endpoint = await updateEndpoint({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, WebhookEndpointSchema, endpoint), 200);
  });
}
