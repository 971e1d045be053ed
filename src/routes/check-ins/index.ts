import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';

// Check-in by ticket code (helper A)
export function registerCheckInsRoutes(_app: OpenAPIHono<AppEnv>): void {
  // Routes register here.
}
