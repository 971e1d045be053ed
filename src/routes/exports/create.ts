import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { location } from '../../middleware/location.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { EXPORT_ENTITIES } from '../../services/exports/entities.ts';
import { createExport, EXPORT_LIMIT, EXPORT_RETENTION_DAYS } from '../../services/exports/service.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { EXPORT_PERMISSIONS, PERMISSIONS_TEXT } from './permissions.ts';
import { ExportCreateSchema, ExportSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/exports',
  operationId: 'createOrganizationExport',
  tags: ['Exports'],
  summary: 'Export the whole organization',
  description:
    `Starts an export of everything the organization owns (${EXPORT_ENTITIES.map((entity) => `\`${entity.name}\``).join(', ')}) ` +
    'as one JSON document or one CSV file per entity. The export runs in the background (202, `Location` of the ' +
    'job): poll `GET /api/v1/exports/{id}` for its progress; when it is `completed` that answer carries signed ' +
    'download links, and the requester gets an email. Never exported: webhook signing secrets, password hashes, ' +
    'MFA secrets and recovery codes, passkeys, sessions, tokens, API keys, booking tokens. One export per ' +
    'organization at a time: while one is queued or running the answer is 409 `conflict`, nothing written. ' +
    `At most ${String(EXPORT_LIMIT.limit)} exports per organization per hour (429 with Retry-After). Files are ` +
    `kept ${String(EXPORT_RETENTION_DAYS)} days. ${PERMISSIONS_TEXT} Writes an \`organization.export_requested\` ` +
    'audit row. One database round trip and two Redis round trips (the admission, the export budget), plus the ' +
    'queue. Honours `Idempotency-Key`.',
  security: [{ bearerAuth: [] }],
  middleware: [
    tenantOnly(),
    requirePermission(...EXPORT_PERMISSIONS),
    requireFeature('exports'),
    location('/api/v1/exports/{id}'),
    idempotent(),
  ] as const,
  request: {
    headers: IdempotencyHeadersSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: ExportCreateSchema,
          examples: {
            json: { summary: 'One JSON document', value: { format: 'json' } },
            csv: { summary: 'One CSV file per entity', value: { format: 'csv' } },
          },
        },
      },
    },
  },
  responses: {
    202: {
      description: 'The export job, queued.',
      content: { 'application/json': { schema: ExportSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const created = await createExport({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, ExportSchema, created), 202);
  });
}
