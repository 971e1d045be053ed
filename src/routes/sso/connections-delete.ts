import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { deleteSsoConnection } from '../../services/sso/connections.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { ssoWriteAccess } from './access.ts';
import { SsoConnectionIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/sso/connections/{id}',
  operationId: 'deleteSsoConnection',
  tags: ['Single sign-on'],
  summary: 'Delete an SSO connection',
  description:
    'Deletes the connection and the identities linked through it; members keep their memberships and other ways ' +
    "to sign in. Another organization's connection answers 404 and nothing changes. Needs `sso:manage` and the " +
    'plan feature `sso`. Writes an `sso_connection.deleted` audit row (in the same statement as the delete).' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: ssoWriteAccess(),
  request: { params: SsoConnectionIdParamsSchema },
  responses: {
    204: { description: 'Deleted.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteSsoConnection({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
