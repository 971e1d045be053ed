import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { deleteImage } from '../../services/files/service.ts';
import { EventIdParamsSchema } from '../events/schema.ts';

export const logoRoute = createRoute({
  method: 'delete',
  path: '/api/v1/organization/logo',
  operationId: 'deleteOrganizationLogo',
  tags: ['Images'],
  summary: "Delete the organization's logo",
  description:
    'Deletes the uploaded logo (the R2 file and its record; its bytes stop counting against `storageBytes`) and ' +
    'removes `branding.logoUrl` when it still points at it. 404 when there is none. Needs `organization:manage`. ' +
    'Writes an `organization.logo_deleted` audit row. One database round trip (plus the R2 delete).',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('organization:manage')] as const,
  responses: {
    204: { description: 'The logo is gone.' },
    ...errorResponses(401, 403, 404, 503),
  },
});

export const coverRoute = createRoute({
  method: 'delete',
  path: '/api/v1/events/{id}/cover',
  operationId: 'deleteEventCover',
  tags: ['Images'],
  summary: "Delete an event's cover image",
  description:
    "Deletes the event's uploaded cover (the R2 file and its record) and clears `coverImageUrl` when it still " +
    "points at it. 404 when there is none or the event is another organization's. Needs `events:write`. Writes an " +
    '`event.cover_deleted` audit row. One database round trip (plus the R2 delete).',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    204: { description: 'The cover is gone.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(logoRoute, async (c) => {
    await deleteImage(serviceContext(c), { kind: 'logo' });
    return c.body(null, 204);
  });
  app.openapi(coverRoute, async (c) => {
    await deleteImage(serviceContext(c), { kind: 'cover', eventId: c.req.valid('param').id.toLowerCase() });
    return c.body(null, 204);
  });
}
