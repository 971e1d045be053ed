import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { logout } from '../../services/auth/sessions.ts';
import { LogoutQuerySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/logout',
  operationId: 'logout',
  tags: ['Authentication'],
  summary: 'Sign out',
  description:
    'Ends this session at once: every access token of the session, the presented one and any earlier one, is ' +
    'revoked (the next request with it is a 401) and so is its refresh-token family. With `?all=true` every ' +
    'session of the user in this organization ends: all refresh families and all access tokens. On the platform ' +
    'host it ends the platform access token (or, with `all=true`, every platform token of the administrator) and ' +
    'records it in the platform audit log.',
  security: [{ bearerAuth: [] }],
  middleware: [requireAuth(), requireSession()] as const,
  request: { query: LogoutQuerySchema },
  responses: {
    204: { description: 'Signed out.' },
    ...errorResponses(400, 401, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await logout({ ctx: serviceContext(c), input: { all: c.req.valid('query').all === 'true' } });
    return c.body(null, 204);
  });
}
