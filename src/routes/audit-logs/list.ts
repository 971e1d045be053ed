import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listAuditLogs } from '../../services/audit/list.ts';
import { tenantOnly } from '../organizations/host.ts';
import { AuditListQuerySchema, AuditListSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/audit-logs',
  operationId: 'listAuditLogs',
  tags: ['Audit log'],
  summary: 'List the audit log',
  description:
    "The organization's audit log (every state change: who, what, on what, from where), newest first, with cursor " +
    'pagination: pass `nextCursor` as `cursor` for the next page. Filters: `actor` (user id), `action` (exact, or a ' +
    'prefix such as `booking.*`), `targetType` and `targetId`, `from` (inclusive) and `to` (exclusive) instants. ' +
    'Only these parameters exist; any other answers 400, as do a malformed cursor, `to` not after `from` and a ' +
    '`limit` outside 1..100. Entries never hold secrets. Organization hosts only; needs `audit:read`. One database ' +
    'round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('audit:read')] as const,
  request: { query: AuditListQuerySchema },
  responses: {
    200: { description: 'A page of entries.', content: { 'application/json': { schema: AuditListSchema } } },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listAuditLogs({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, AuditListSchema, page), 200);
  });
}
