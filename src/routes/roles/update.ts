import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { updateRole } from '../../services/roles/update.ts';
import { RoleIdParamsSchema, RoleSchema, RoleUpdateSchema } from './schema.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/roles/{id}',
  operationId: 'updateRole',
  tags: ['Roles'],
  summary: 'Change a custom role',
  description:
    "Changes a custom role's `name`, `description` or `permissions` (the complete new list). A permission change " +
    'ends the sessions of every member holding the role at once, so no token keeps the old permissions. ' +
    'Needs `roles:manage`, and every permission of the role before and after the change (403). Built-in roles ' +
    "cannot be changed: 409. Another organization's role answers 404. Writes a `role.updated` audit row. If the " +
    'ended sessions cannot be recorded (Redis unavailable), the change stays saved and the answer is 503.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('roles:manage'), requireRecentAuth()] as const,
  request: {
    params: RoleIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: RoleUpdateSchema,
          examples: {
            permissions: {
              summary: 'Replace the permissions',
              value: { permissions: ['events:read', 'bookings:read'] },
            },
          },
        },
      },
    },
  },
  responses: {
    200: { description: 'The role after the change.', content: { 'application/json': { schema: RoleSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const role = await updateRole({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, RoleSchema, role), 200);
  });
}
