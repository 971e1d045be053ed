import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { readUsage, USAGE_METRICS, utcDay } from '../../services/plans/usage.ts';
import { tenantOnly } from '../organizations/host.ts';
import { MAX_USAGE_DAYS, UsageQuerySchema, UsageSchema } from './schema.ts';
import { responseBody } from '../response.ts';

const DAY_MS = 86_400_000;

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

function rangeError(message: string): ApiError {
  return new ApiError('validation_failed', {
    detail: 'The request does not match the schema.',
    errors: [{ pointer: '/query/from', message }],
  });
}

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const query = c.req.valid('query');
    const to = query.to ?? utcDay();
    const from = query.from ?? utcDay(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS);
    const span = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
    if (span < 1) throw rangeError('Must not be after `to`.');
    if (span > MAX_USAGE_DAYS) throw rangeError(`The range may span at most ${MAX_USAGE_DAYS} days.`);
    const days = await readUsage({ db: ctx.services.db, redis: ctx.services.redis, logger: ctx.logger }, tenant.id, {
      from,
      to,
    });
    const totals = { api_calls: 0, bookings: 0, emails: 0, webhook_deliveries: 0 };
    for (const day of days) for (const metric of USAGE_METRICS) totals[metric] += day[metric];
    return c.json(responseBody(c, UsageSchema, { from, to, metrics: [...USAGE_METRICS], days, totals }), 200);
  });
}
