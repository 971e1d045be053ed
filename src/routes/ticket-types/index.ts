import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as remove from './delete.ts';
import * as update from './update.ts';

export function registerTicketTypesRoutes(app: OpenAPIHono<AppEnv>): void {
  update.register(app);
  remove.register(app);
}
