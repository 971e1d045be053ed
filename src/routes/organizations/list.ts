import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { listOrganizations } from '../../services/organizations/read.ts';
import { platformOnly } from './host.ts';
import { OrganizationListQuerySchema, OrganizationListSchema, presentOrganization } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/organizations',
  operationId: 'listOrganizations',
  tags: ['Organizations'],
  summary: 'List organizations',
  description:
    'Every organization, ordered by slug, with cursor pagination and filters. Platform host and platform ' +
    'administrators only (404 on an organization host, 403 for other callers).',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { query: OrganizationListQuerySchema },
  responses: {
    200: {
      description: 'One page of organizations.',
      content: { 'application/json': { schema: OrganizationListSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listOrganizations({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(
      responseBody(c, OrganizationListSchema, {
        data: page.data.map(presentOrganization),
        nextCursor: page.nextCursor,
      }),
      200,
    );
  });
}
