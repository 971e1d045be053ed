import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { getSsoConnection } from '../../services/sso/connections.ts';
import { responseBody } from '../response.ts';
import { ssoAccess } from './access.ts';
import { SsoConnectionIdParamsSchema, SsoConnectionSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/sso/connections/{id}',
  operationId: 'getSsoConnection',
  tags: ['Single sign-on'],
  summary: 'Get an SSO connection',
  description:
    "One connection, without its client secret. Another organization's connection answers 404 like a missing " +
    'one. Needs `sso:manage` and the plan feature `sso`.',
  security: [{ bearerAuth: [] }],
  middleware: ssoAccess(),
  request: { params: SsoConnectionIdParamsSchema },
  responses: {
    200: { description: 'The connection.', content: { 'application/json': { schema: SsoConnectionSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const connection = await getSsoConnection({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, SsoConnectionSchema, connection), 200);
  });
}
