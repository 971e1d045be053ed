import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { listExports } from '../../services/exports/service.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { EXPORT_PERMISSIONS, PERMISSIONS_TEXT } from './permissions.ts';
import { ExportListQuerySchema, ExportPageSchema, MAX_EXPORT_PAGE_SIZE } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/exports',
  operationId: 'listOrganizationExports',
  tags: ['Exports'],
  summary: 'List exports',
  description:
    "The organization's exports of the last 7 days, newest first, as `GET /api/v1/exports/{id}` shows each " +
    '(completed ones with fresh download links), with cursor pagination: pass `nextCursor` as `cursor` for the ' +
    `next page. A malformed cursor or a \`limit\` outside 1..${String(MAX_EXPORT_PAGE_SIZE)} answers 400. ` +
    PERMISSIONS_TEXT +
    ' One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission(...EXPORT_PERMISSIONS), requireFeature('exports')] as const,
  request: { query: ExportListQuerySchema },
  responses: {
    200: { description: 'A page of exports.', content: { 'application/json': { schema: ExportPageSchema } } },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listExports({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, ExportPageSchema, page), 200);
  });
}
