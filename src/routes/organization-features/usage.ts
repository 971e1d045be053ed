import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { usageReport, USAGE_METRICS } from '../../services/plans/usage.ts';
import { tenantOnly } from '../organizations/host.ts';
import { MAX_USAGE_DAYS, UsageQuerySchema, UsageSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/organization/usage',
  operationId: 'getOrganizationUsage',
  tags: ['Organizations'],
  summary: 'Get usage per day',
  description:
    'Usage per UTC day for `from`..`to` (inclusive dates, `YYYY-MM-DD`; default the last 30 days up to today; at ' +
    `most ${MAX_USAGE_DAYS} days; \`from\` after \`to\` answers 400). Metrics: \`api_calls\` (authenticated ` +
    'requests on this host, including refused ones, and public page requests), `bookings` (bookings created, ' +
    'counted from the booking rows), `emails` and `webhook_deliveries`. Counters are kept in Redis and moved into ' +
    'the database every minute; the answer adds what has not been moved yet, so today is live. Every day of the ' +
    'range is listed, zeros included, with totals. Organization hosts only; needs `organization:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('organization:read')] as const,
  request: { query: UsageQuerySchema },
  responses: {
    200: {
      description: 'Usage per day.',
      content: {
        'application/json': {
          schema: UsageSchema,
          example: {
            from: '2026-05-01',
            to: '2026-05-02',
            metrics: [...USAGE_METRICS],
            days: [
              { day: '2026-05-01', api_calls: 1520, bookings: 12, emails: 30, webhook_deliveries: 48 },
              { day: '2026-05-02', api_calls: 310, bookings: 2, emails: 4, webhook_deliveries: 6 },
            ],
            totals: { api_calls: 1830, bookings: 14, emails: 34, webhook_deliveries: 54 },
          },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const report = await usageReport({
      ctx: serviceContext(c),
      input: { ...c.req.valid('query'), maxDays: MAX_USAGE_DAYS },
    });
    return c.json(responseBody(c, UsageSchema, report), 200);
  });
}
