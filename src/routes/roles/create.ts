import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { createRole, MAX_CUSTOM_ROLES } from '../../services/roles/create.ts';
import { RoleCreateSchema, RoleSchema } from './schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/roles',
  operationId: 'createRole',
  tags: ['Roles'],
  summary: 'Create a custom role',
  description:
    'A custom role built from the permission catalogue. Needs `roles:manage`. A permission outside the catalogue ' +
    'answers 400; a permission you do not hold yourself 403; a key already used in the organization (built-in keys ' +
    `included) 409, as does a ${MAX_CUSTOM_ROLES + 1}st custom role. Needs the \`custom_roles\` feature of the ` +
    'plan (403 `feature_unavailable` naming the plan otherwise; roles created before a downgrade keep working). ' +
    'Writes a `role.created` audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [
    requirePermission('roles:manage'),
    requireFeature('custom_roles'),
    requireRecentAuth(),
    location('/api/v1/roles/{id}'),
    idempotent(),
  ] as const,
  request: {
    headers: IdempotencyHeadersSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: RoleCreateSchema,
          examples: {
            boxOffice: {
              summary: 'Box office',
              value: {
                key: 'box-office',
                name: 'Box office',
                description: 'Sells and refunds tickets.',
                permissions: ['events:read', 'bookings:read', 'bookings:write'],
              },
            },
          },
        },
      },
    },
  },
  responses: {
    201: { description: 'The new role.', content: { 'application/json': { schema: RoleSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const role = await createRole({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, RoleSchema, role), 201);
  });
}
