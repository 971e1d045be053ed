import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { addressBucket, limitRequests } from '../../middleware/request-limit.ts';
import { downloadExport, EXPORT_DOWNLOAD_LIMIT } from '../../services/exports/service.ts';
import { tenantOnly } from '../organizations/host.ts';
import { ExportDownloadQuerySchema, ExportFileParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/exports/{id}/files/{file}',
  operationId: 'downloadOrganizationExportFile',
  tags: ['Exports'],
  summary: 'Download an export file (signed link)',
  description:
    'A file of a completed export, streamed from storage as an attachment (`Content-Disposition: attachment`, ' +
    '`X-Content-Type-Options: nosniff`, `Cache-Control: no-store`). Reached through the signed link that ' +
    '`GET /api/v1/exports/{id}` hands out: no bearer token (a browser can follow it), the `expires` and ' +
    '`signature` query parameters are the credential. A signature that does not match this organization, export, ' +
    'file and expiry (a tampered link), and an export that no longer exists, answer 404; a genuine link past its ' +
    'expiry answers 403 `forbidden`. Missing or malformed parameters answer 400. At most ' +
    `${String(EXPORT_DOWNLOAD_LIMIT.limit)} downloads per client address per minute (429 with Retry-After; fails ` +
    'open when Redis cannot answer). No database round trip, one Redis round trip (the limit), then storage.',
  middleware: [tenantOnly(), limitRequests(EXPORT_DOWNLOAD_LIMIT, addressBucket)] as const,
  request: { params: ExportFileParamsSchema, query: ExportDownloadQuerySchema },
  responses: {
    200: {
      description: 'The file.',
      headers: z.object({
        'content-disposition': z
          .string()
          .max(140)
          .regex(/^attachment; filename="[a-z0-9-]{1,63}-export-[0-9a-f]{8}-[A-Za-z]+\.(?:json|csv)"$/)
          .openapi({
            description: 'attachment; filename="<slug>-export-<first 8 of the id>-<file>"',
            example: 'attachment; filename="acme-export-3f2e1d0c-organization.json"',
          }),
        'content-length': z
          .string()
          .max(16)
          .regex(/^\d+$/)
          .openapi({ description: 'The size in bytes.', example: '734003' }),
      }),
      content: {
        'application/json': {
          schema: z.string().openapi({
            maxLength: Number.MAX_SAFE_INTEGER,
            description:
              'The JSON document: `{"format":"eventra.organization-export","version":1,"exportId",' +
              '"exportedAt","organization",<entity>:[records]...}`, one record per line.',
            example: '{"format":"eventra.organization-export","version":1,"events":[\n{"id":"..."}\n]}\n',
          }),
        },
        'text/csv': {
          schema: z.string().openapi({
            maxLength: Number.MAX_SAFE_INTEGER,
            description:
              'RFC 4180 CSV of one entity with a header row, CRLF line ends; lists and objects as JSON text; a ' +
              'cell a spreadsheet would run as a formula is prefixed with an apostrophe.',
            example: 'id,slug,title\r\n5f7d0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f,jazz-night,Jazz night\r\n',
          }),
        },
      },
    },
    ...errorResponses(400, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { id, file } = c.req.valid('param');
    const { expires, signature } = c.req.valid('query');
    const download = await downloadExport({ ctx, input: { id, file, expires, signature } });
    return new Response(download.body, {
      status: 200,
      headers: {
        'content-type': download.contentType,
        'content-length': String(download.size),
        'content-disposition': `attachment; filename="${tenant.slug}-export-${id.slice(0, 8).toLowerCase()}-${file}"`,
      },
    });
  });
}
