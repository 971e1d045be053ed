import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';

export function registerUsersRoutes(_app: OpenAPIHono<AppEnv>): void {
  // Operations register here.
}
