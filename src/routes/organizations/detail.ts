import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Organization } from '../../db/schema/index.ts';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { getOrganizationDetail } from '../../services/organizations/read.ts';
import { int32, Timestamp, Uuid } from '../fields.ts';
import { PlanSummarySchema, UsageDaySchema } from '../organization-features/schema.ts';
import { responseBody } from '../response.ts';
import { platformOnly } from './host.ts';
import { OrganizationSchema, presentOrganization } from './schema.ts';

export const OrganizationDetailParamsSchema = z.object({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' }, description: 'The organization id.' }),
});

export const OrganizationDetailSchema = z
  .object({
    organization: OrganizationSchema,
    plan: PlanSummarySchema,
    members: z.object({
      total: int32(0),
      active: int32(0),
      invited: int32(0),
      disabled: int32(0),
      owners: int32(0).openapi({ description: 'Active owners.' }),
    }),
    events: z.object({ total: int32(0), published: int32(0) }),
    lastSignInAt: Timestamp.nullable().openapi({ description: 'The latest sign-in of any of its members.' }),
    lastActivityAt: Timestamp.nullable().openapi({ description: 'The latest entry of its audit log.' }),
    deletion: z
      .object({
        scheduledAt: Timestamp.openapi({ description: 'When the deletion was scheduled.' }),
        deleteAfter: Timestamp.openapi({ description: 'When the scheduled purge deletes it.' }),
      })
      .nullable()
      .openapi({
        description:
          'Its scheduled deletion (POST /api/v1/organizations/{id}/schedule-deletion), or null: while one is ' +
          'scheduled the organization is not served.',
      }),
    usage: z
      .array(UsageDaySchema)
      .max(30)
      .openapi({ description: 'The last 30 UTC days, oldest first (zeros included).' }),
  })
  .openapi('OrganizationDetail', { description: 'An organization as platform administrators see it.' });

/** The scheduled deletion of an organization row, as the detail shows it. */
function scheduleOf(row: Organization): { scheduledAt: string; deleteAfter: string } | null {
  if (row.deletionScheduledAt === null || row.deleteAfter === null) return null;
  return { scheduledAt: row.deletionScheduledAt.toISOString(), deleteAfter: row.deleteAfter.toISOString() };
}

export const route = createRoute({
  method: 'get',
  path: '/api/v1/organizations/{id}',
  operationId: 'getOrganizationDetail',
  tags: ['Organizations'],
  summary: 'Get an organization (platform)',
  description:
    'One organization with what support needs at a glance: the organization, its effective plan (limits and ' +
    'features, overrides applied), member counts by status and active owners, event counts, the latest sign-in and ' +
    'audited activity, the last 30 days of usage, and its scheduled deletion if any. 404 for an unknown id. Platform host and platform ' +
    'administrators only (404 on an organization host, 403 for other callers). Two database round trips side by ' +
    "side and one Redis round trip beside the authentication's; one more database round trip for an organization " +
    'on a dedicated database (its counts are read there).',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { params: OrganizationDetailParamsSchema },
  responses: {
    200: { description: 'The organization.', content: { 'application/json': { schema: OrganizationDetailSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const detail = await getOrganizationDetail({ ctx: serviceContext(c), input: c.req.valid('param') });
    c.header('cache-control', 'no-store');
    return c.json(
      responseBody(c, OrganizationDetailSchema, {
        ...detail,
        organization: presentOrganization(detail.organization),
        deletion: scheduleOf(detail.organization),
      }),
      200,
    );
  });
}
