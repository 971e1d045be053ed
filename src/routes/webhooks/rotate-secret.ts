import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rotateSecret } from '../../services/webhooks/endpoints.ts';
import { webhookWriteAccess } from './access.ts';
import { EndpointIdParamsSchema, EXAMPLES, WebhookEndpointWithSecretSchema } from './schema.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/webhooks/{id}/rotate-secret',
  operationId: 'rotateWebhookSecret',
  tags: ['Webhooks'],
  summary: 'Rotate the signing secret',
  description:
    'Replaces the signing secret; the new one is in the answer, shown only this once. For 24 hours ' +
    '(`previousSecretExpiresAt`) the previous secret keeps signing too: `webhook-signature` carries both ' +
    'signatures, space-separated, so receivers can switch without missing a message. Rotating again within the ' +
    "overlap drops the older secret. Another organization's endpoint answers 404. Needs `webhooks:manage`. Writes " +
    'a `webhook_endpoint.secret_rotated` audit row (without secrets).' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: webhookWriteAccess(),
  request: { params: EndpointIdParamsSchema },
  responses: {
    200: {
      description: 'The endpoint with its new secret (shown only now).',
      content: {
        'application/json': {
          schema: WebhookEndpointWithSecretSchema,
          example: { ...EXAMPLES.endpointWithSecret, previousSecretExpiresAt: '2026-11-02T10:00:00.000Z' },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const endpoint = await rotateSecret({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, WebhookEndpointWithSecretSchema, endpoint), 200, { 'cache-control': 'no-store' });
  });
}
