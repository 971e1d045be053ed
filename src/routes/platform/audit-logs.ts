import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { listPlatformAuditLogs } from '../../services/audit/list.ts';
import { AuditListQuerySchema, AuditListSchema } from '../audit-logs/schema.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/platform/audit-logs',
  operationId: 'listPlatformAuditLogs',
  tags: ['Platform'],
  summary: "List the platform's audit log",
  description:
    "The platform's own audit entries (those of no organization: platform administrators' sign-ins, account " +
    'session revocations, ...), with the filters, sorts and cursor pagination of `GET /api/v1/audit-logs`. An ' +
    "organization's entries are in its own log. Platform host and platform administrators only (404 on an " +
    'organization host, 403 for other callers). One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { query: AuditListQuerySchema },
  responses: {
    200: { description: 'A page of entries.', content: { 'application/json': { schema: AuditListSchema } } },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listPlatformAuditLogs({ ctx: serviceContext(c), input: c.req.valid('query') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, AuditListSchema, page), 200);
  });
}
