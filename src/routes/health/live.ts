import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { LivenessSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/health',
  operationId: 'getLiveness',
  tags: ['Health'],
  summary: 'Liveness',
  description: 'Answers while the Worker runs. No I/O and no tenant resolution: it answers on any host.',
  responses: {
    200: { description: 'The Worker is alive.', content: { 'application/json': { schema: LivenessSchema } } },
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, (c) => c.json({ status: 'ok' as const }, 200));
}
