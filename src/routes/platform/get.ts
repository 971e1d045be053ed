import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { getPlatformUser } from '../../services/platform/users.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { PlatformUserIdParamsSchema, PlatformUserSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/platform/users/{id}',
  operationId: 'getPlatformUser',
  tags: ['Platform'],
  summary: 'Get an account',
  description:
    'An account with its memberships: each organization, the role and status there, the latest sign-in and the ' +
    'sessions still live. Never a secret. 404 for an unknown account. Platform host and platform administrators ' +
    'only. One database round trip, plus one per dedicated database side by side (the memberships of organizations ' +
    'moved to one are there).',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { params: PlatformUserIdParamsSchema },
  responses: {
    200: { description: 'The account.', content: { 'application/json': { schema: PlatformUserSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const user = await getPlatformUser({ ctx: serviceContext(c), input: c.req.valid('param') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, PlatformUserSchema, user), 200);
  });
}
