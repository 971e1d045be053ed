import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { getExport } from '../../services/exports/service.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { EXPORT_PERMISSIONS, PERMISSIONS_TEXT } from './permissions.ts';
import { ExportIdParamsSchema, ExportSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/exports/{id}',
  operationId: 'getOrganizationExport',
  tags: ['Exports'],
  summary: 'Read an export',
  description:
    'The export job: its status, its progress (entities done of all, records written) and, once `completed`, its ' +
    'files with their size, SHA-256 and a signed download link each, valid for 15 minutes (read the export again ' +
    "for fresh links). An unknown id and another organization's export answer 404. " +
    PERMISSIONS_TEXT +
    ' One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission(...EXPORT_PERMISSIONS), requireFeature('exports')] as const,
  request: { params: ExportIdParamsSchema },
  responses: {
    200: { description: 'The export.', content: { 'application/json': { schema: ExportSchema } } },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const found = await getExport({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, ExportSchema, found), 200);
  });
}
