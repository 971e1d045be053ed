import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { permissionCatalogue } from '../../services/roles/list.ts';
import { PermissionCatalogueSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/roles/permissions',
  operationId: 'listPermissions',
  tags: ['Roles'],
  summary: 'Permission catalogue',
  description:
    'The fixed list of permissions that roles are built from, with what each allows. The same for every ' +
    'organization; no database access. Needs `users:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('users:read')] as const,
  responses: {
    200: {
      description: 'The permission catalogue.',
      content: {
        'application/json': {
          schema: PermissionCatalogueSchema,
          example: {
            data: [{ key: 'events:write', description: 'Create, change, publish and cancel events and ticket types' }],
          },
        },
      },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, (c) => {
    requireTenant(c.var);
    return c.json(responseBody(c, PermissionCatalogueSchema, { data: permissionCatalogue() }), 200);
  });
}
