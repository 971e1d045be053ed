import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as live from './live.ts';
import * as ready from './ready.ts';

export function registerHealthRoutes(app: OpenAPIHono<AppEnv>): void {
  live.register(app);
  ready.register(app);
}
