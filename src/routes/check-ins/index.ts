import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';

// Check-in by ticket code (helper A)
export function registerCheckInsRoutes(app: OpenAPIHono<AppEnv>): void {
  create.register(app);
}
