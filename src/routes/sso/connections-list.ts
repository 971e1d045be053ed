import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { listSsoConnections } from '../../services/sso/connections.ts';
import { responseBody } from '../response.ts';
import { ssoAccess } from './access.ts';
import { SsoConnectionListSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/sso/connections',
  operationId: 'listSsoConnections',
  tags: ['Single sign-on'],
  summary: 'List SSO connections',
  description:
    "The organization's connections, oldest first, without their client secrets. Needs `sso:manage` and the plan " +
    'feature `sso`.',
  security: [{ bearerAuth: [] }],
  middleware: ssoAccess(),
  responses: {
    200: { description: 'The connections.', content: { 'application/json': { schema: SsoConnectionListSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const items = await listSsoConnections({ ctx: serviceContext(c) });
    return c.json(responseBody(c, SsoConnectionListSchema, { items }), 200);
  });
}
