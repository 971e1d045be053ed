import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { removeRole } from '../../services/roles/remove.ts';
import { RoleIdParamsSchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/roles/{id}',
  operationId: 'deleteRole',
  tags: ['Roles'],
  summary: 'Delete a custom role',
  description:
    'Deletes a custom role that no member holds. Built-in roles and roles still assigned to members answer 409; ' +
    "a role with a permission you lack 403; another organization's role 404. Needs `roles:manage`. Writes a " +
    '`role.deleted` audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('roles:manage'), requireRecentAuth()] as const,
  request: { params: RoleIdParamsSchema },
  responses: {
    204: { description: 'The role is gone.' },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await removeRole({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
