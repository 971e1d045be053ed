import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { MAX_METRICS_DAYS, platformMetrics, ROLLUP_INTERVAL_MINUTES } from '../../services/platform/metrics.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { PlatformMetricsQuerySchema, PlatformMetricsSchema } from './metrics-schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/platform/metrics',
  operationId: 'getPlatformMetrics',
  tags: ['Platform'],
  summary: 'Get the platform metrics',
  description:
    'The admin dashboard: per UTC day of `from`..`to` (inclusive dates, `YYYY-MM-DD`; default the last 30 days up ' +
    `to today; at most ${MAX_METRICS_DAYS} days; \`from\` after \`to\` answers 400) the sign-ups (organizations and ` +
    'accounts), active users, events published, bookings confirmed and gross volume per currency, refunds per ' +
    'currency, webhook deliveries succeeded and failed, emails sent, messages dead-lettered per queue, and the ' +
    'snapshots of organizations by plan and status, of the outbox backlog and of the dead letters not yet resolved; ' +
    'with totals over the range and the latest snapshot. Read from daily rows the ' +
    `scheduled handler rolls up (today's at most about ${ROLLUP_INTERVAL_MINUTES} minutes behind), so the cost does ` +
    'not grow with the number of organizations. Platform host and platform administrators only (404 on an ' +
    'organization host, 401 without a token, 403 for other callers). One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { query: PlatformMetricsQuerySchema },
  responses: {
    200: { description: 'The metrics.', content: { 'application/json': { schema: PlatformMetricsSchema } } },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const metrics = await platformMetrics({ ctx: serviceContext(c), input: c.req.valid('query') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, PlatformMetricsSchema, metrics), 200);
  });
}
