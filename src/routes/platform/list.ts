import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { searchUsers } from '../../services/platform/users.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { MAX_PLATFORM_USER_PAGE_SIZE, PlatformUserListQuerySchema, PlatformUserPageSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/platform/users',
  operationId: 'searchPlatformUsers',
  tags: ['Platform'],
  summary: 'Search accounts',
  description:
    'Every account (one identity across organizations), by email address, optionally those whose email or name ' +
    'starts with `q`, with cursor pagination (`limit` 1 to ' +
    `${MAX_PLATFORM_USER_PAGE_SIZE}). Each with how many organizations it belongs to and its latest sign-in. Never a ` +
    'secret. Platform host and platform administrators only (404 on an organization host, 403 for other callers). ' +
    'One database round trip, on the control database: the counts and latest sign-in leave out memberships in ' +
    'organizations on a dedicated database (the account itself lists them).',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { query: PlatformUserListQuerySchema },
  responses: {
    200: { description: 'One page of accounts.', content: { 'application/json': { schema: PlatformUserPageSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await searchUsers({ ctx: serviceContext(c), input: c.req.valid('query') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, PlatformUserPageSchema, page), 200);
  });
}
