import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { createEndpoint } from '../../services/webhooks/endpoints.ts';
import { webhookWriteAccess } from './access.ts';
import { EndpointCreateSchema, EXAMPLES, WebhookEndpointWithSecretSchema } from './schema.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/webhooks',
  operationId: 'createWebhookEndpoint',
  tags: ['Webhooks'],
  summary: 'Create a webhook endpoint',
  description:
    "Registers an endpoint that receives the organization's events as Standard Webhooks 1.0 POSTs (headers " +
    '`webhook-id`, `webhook-timestamp`, `webhook-signature`). The answer carries the signing secret (`whsec_...`), ' +
    'shown only this once and stored encrypted. 400: a URL the platform will not call (not https, credentials, a ' +
    'port other than 443, localhost, *.internal, a private, loopback, link-local, CGNAT, multicast or metadata IP ' +
    'address), an event type outside the catalogue, any unlisted field. No Idempotency-Key: a replay would have to ' +
    'store the secret. Needs `webhooks:manage`. Writes a `webhook_endpoint.created` audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [...webhookWriteAccess(), location('/api/v1/webhooks/{id}')],
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: EndpointCreateSchema,
          examples: {
            filtered: {
              summary: 'Booking events only',
              value: {
                url: 'https://hooks.example.com/eventra',
                description: 'CRM sync',
                eventTypes: ['booking.confirmed', 'booking.cancelled'],
              },
            },
            everything: { summary: 'Every event type', value: { url: 'https://hooks.example.com/all' } },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The new endpoint with its signing secret (shown only now).',
      content: {
        'application/json': { schema: WebhookEndpointWithSecretSchema, example: EXAMPLES.endpointWithSecret },
      },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const endpoint = await createEndpoint({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, WebhookEndpointWithSecretSchema, endpoint), 201, { 'cache-control': 'no-store' });
  });
}
