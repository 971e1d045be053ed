import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { MAX_AUDIT_METADATA } from '../../services/audit/bounds.ts';
import {
  CSV_COLUMNS,
  EXPORT_PAGE_SIZE,
  exportAuditLog,
  MAX_CSV_EXPORT,
  MAX_CSV_ROW,
  MAX_EXPORT_ROWS,
} from '../../services/audit/export.ts';
import { tenantOnly } from '../organizations/host.ts';
import { AuditEntrySchema, AuditExportQuerySchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/audit-logs/export',
  operationId: 'exportAuditLogs',
  tags: ['Audit log'],
  summary: 'Export the audit log',
  description:
    'The whole audit log matching the filters of the list (`actor`, `action`, `targetType`, `targetId`, `from`, ' +
    '`to`), newest first, as a download (`Content-Disposition: attachment`): `format=csv` (default; RFC 4180 with ' +
    `a header row \`${CSV_COLUMNS.join(',')}\`, CRLF line ends, \`metadata\` as JSON; a cell starting with =, +, ` +
    '-, @, a tab or a carriage return is prefixed with an apostrophe so spreadsheets show it as text) or ' +
    '`format=json` (one array of list entries). Streamed: the rows are read in pages of ' +
    `${String(EXPORT_PAGE_SIZE)} as the client downloads. At most ${String(MAX_EXPORT_ROWS)} entries: when more ` +
    'match, the answer is 422 `unprocessable` (pointer `/query/from`) before anything is sent; narrow `from`/`to` ' +
    'and export the parts. Needs `audit:read` and the `exports` feature of the plan (403 `feature_unavailable` otherwise). ' +
    'Organization hosts only.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('audit:read'), requireFeature('exports')] as const,
  request: { query: AuditExportQuerySchema },
  responses: {
    200: {
      description: 'The export, streamed.',
      headers: z.object({
        'content-disposition': z
          .string()
          .max(118)
          .regex(/^attachment; filename="audit-log-[a-z0-9-]{1,63}-\d{8}T\d{6}Z\.(?:csv|json)"$/)
          .openapi({
            description: 'attachment; filename="audit-log-<slug>-<UTC timestamp>.<csv|json>"',
            example: 'attachment; filename="audit-log-acme-20260501T090000Z.csv"',
          }),
      }),
      content: {
        'text/csv': {
          schema: z.string().openapi({
            maxLength: MAX_CSV_EXPORT,
            description:
              `CSV with a header row and at most ${String(MAX_EXPORT_ROWS)} rows of at most ${String(MAX_CSV_ROW)} ` +
              'characters each (every column has a bounded length; `metadata` is at most ' +
              `${String(MAX_AUDIT_METADATA)} characters as JSON before CSV quoting).`,
            example: `${CSV_COLUMNS.join(',')}\r\n42,2026-05-01T09:00:00.123Z,user,6a1f0d4e-2b7c-4e9a-8f3d-5c2b1a0e9d87,booking.cancelled,booking,5f7d0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f,203.0.113.7,Mozilla/5.0,b3f1c2de,{}\r\n`,
          }),
        },
        'application/json': {
          schema: z
            .array(AuditEntrySchema)
            .max(MAX_EXPORT_ROWS)
            .openapi({ description: `The entries, newest first (at most ${String(MAX_EXPORT_ROWS)}).` }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 422, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { format, ...filters } = c.req.valid('query');
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const stream = await exportAuditLog({ ctx, input: { format, filters } });
    return new Response(stream, {
      status: 200,
      headers: {
        'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
        'content-disposition': `attachment; filename="audit-log-${tenant.slug}-${stamp}.${format}"`,
      },
    });
  });
}
