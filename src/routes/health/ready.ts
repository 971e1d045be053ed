import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { errorResponses } from '../../errors/problem.ts';
import { checkReadiness, type Dependency } from '../../services/health/readiness.ts';
import { ReadinessSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/health/ready',
  operationId: 'getReadiness',
  tags: ['Health'],
  summary: 'Readiness',
  description:
    'Checks the database, Redis and the queue bindings in parallel. On a tenant host it also proves the host ' +
    'resolves to an active organization (unknown hosts answer 404). A failing dependency answers 503 and names it ' +
    'in `detail` and in `checks`.',
  responses: {
    200: { description: 'Every dependency answered.', content: { 'application/json': { schema: ReadinessSchema } } },
    ...errorResponses(404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const checks = await checkReadiness({ ctx: c.var });
    const failing = (Object.keys(checks) as Dependency[]).filter((name) => checks[name].status === 'fail');
    if (failing.length > 0) {
      throw new ApiError('service_unavailable', {
        detail: `Unavailable: ${failing.join(', ')}.`,
        headers: { 'retry-after': '5' },
        extensions: { checks },
      });
    }
    return c.json(responseBody(c, ReadinessSchema, { status: 'ok', tenant: c.var.tenant?.slug ?? null, checks }), 200);
  });
}
