import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listRoles } from '../../services/roles/list.ts';
import { RoleListSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/roles',
  operationId: 'listRoles',
  tags: ['Roles'],
  summary: 'List roles',
  description:
    "The organization's built-in and custom roles with their permissions and member counts (not paginated: an " +
    'organization has at most 5 built-in and 50 custom roles). The permission catalogue is served by ' +
    '`GET /api/v1/roles/permissions`. Needs `users:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('users:read')] as const,
  responses: {
    200: {
      description: 'Every role of the organization.',
      content: {
        'application/json': {
          schema: RoleListSchema,
          example: {
            data: [
              {
                id: '2b7e1c4d-5a6f-4b70-9c8d-0e1f2a3b4c5d',
                key: 'staff',
                name: 'Staff',
                description: 'Door staff: sees events and bookings, checks attendees in',
                permissions: ['organization:read', 'events:read', 'bookings:read', 'checkins:write'],
                builtIn: true,
                memberCount: 4,
              },
            ],
          },
        },
      },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const roles = await listRoles({ ctx: serviceContext(c) });
    return c.json(responseBody(c, RoleListSchema, { data: roles }), 200);
  });
}
