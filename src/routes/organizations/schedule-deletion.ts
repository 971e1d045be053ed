import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin, requireRecentAuth } from '../../middleware/auth.ts';
import { DELETION_GRACE_DAYS, scheduleOrganizationDeletion } from '../../services/organizations/deletion.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { DeletionScheduleSchema, ScheduleDeletionBodySchema } from './deletion-schema.ts';
import { OrganizationDetailParamsSchema } from './detail.ts';
import { platformOnly } from './host.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/organizations/{id}/schedule-deletion',
  operationId: 'scheduleOrganizationDeletion',
  tags: ['Organizations'],
  summary: 'Schedule the deletion of an organization',
  description:
    'Schedules the deletion of the organization after a grace period (`graceDays`, ' +
    `${DELETION_GRACE_DAYS.min} to ${DELETION_GRACE_DAYS.max}, default ${DELETION_GRACE_DAYS.default}). From now ` +
    'on the organization is not served: every request to its hosts (API, sign-in, public pages) answers 404 ' +
    '`organization_deletion_scheduled`, at once on the instance that served the change and everywhere within 30 ' +
    'seconds (the tenant cache). Its status is not changed. Until `deleteAfter`, ' +
    '`POST /api/v1/organizations/{id}/cancel-deletion` restores it as it was; after it, the scheduled purge deletes ' +
    'the organization with everything it holds (docs/OPERATIONS.md, "Deleting an organization"). Each active owner ' +
    'is sent a notice by email. Writes `platform.organization_deletion_scheduled` in the platform audit log and ' +
    '`organization.deletion_scheduled` in the organization’s, both with the reason. 409 when a deletion is already ' +
    'scheduled; 404 for an unknown id. Platform host and platform administrators only (404 on an organization ' +
    'host, 403 for other callers). One database round trip.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin(), requireRecentAuth()] as const,
  request: {
    params: OrganizationDetailParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: ScheduleDeletionBodySchema,
          example: { reason: 'Support #4711: the owner asked to close the account', graceDays: 30 },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The deletion is scheduled.',
      content: { 'application/json': { schema: DeletionScheduleSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { reason, graceDays } = c.req.valid('json');
    const schedule = await scheduleOrganizationDeletion({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, reason, graceDays },
    });
    return c.json(responseBody(c, DeletionScheduleSchema, schedule), 200);
  });
}
