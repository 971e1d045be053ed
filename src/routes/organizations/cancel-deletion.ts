import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin, requireRecentAuth } from '../../middleware/auth.ts';
import { cancelOrganizationDeletion } from '../../services/organizations/deletion.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { CancelDeletionBodySchema } from './deletion-schema.ts';
import { OrganizationDetailParamsSchema } from './detail.ts';
import { platformOnly } from './host.ts';
import { OrganizationSchema, presentOrganization } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/organizations/{id}/cancel-deletion',
  operationId: 'cancelOrganizationDeletion',
  tags: ['Organizations'],
  summary: 'Cancel the scheduled deletion of an organization',
  description:
    'Cancels a scheduled deletion while its grace period lasts: the organization is served again with the status ' +
    'it had (an organization suspended before stays suspended), at once on the instance that served the change and ' +
    'everywhere within 5 seconds. Each active owner is sent a notice by email. Writes ' +
    '`platform.organization_deletion_cancelled` in the platform audit log and `organization.deletion_cancelled` in ' +
    'the organization’s, both with the reason. 409 when no deletion is scheduled or its grace period is over (the ' +
    'purge is due or under way); 404 for an unknown id. Platform host and platform administrators only (404 on an ' +
    'organization host, 403 for other callers). One database round trip.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin(), requireRecentAuth()] as const,
  request: {
    params: OrganizationDetailParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: CancelDeletionBodySchema,
          example: { reason: 'Support #4712: the owner changed their mind' },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The deletion is cancelled; the organization as it is now.',
      content: { 'application/json': { schema: OrganizationSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const organization = await cancelOrganizationDeletion({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, reason: c.req.valid('json').reason },
    });
    return c.json(responseBody(c, OrganizationSchema, presentOrganization(organization)), 200);
  });
}
