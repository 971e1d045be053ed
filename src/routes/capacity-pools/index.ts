import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';

// Shared capacity pools (helper D)
export function registerCapacityPoolsRoutes(_app: OpenAPIHono<AppEnv>): void {
  // Routes register here.
}
