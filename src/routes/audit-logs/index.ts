import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as exportRoute from './export.ts';
import * as list from './list.ts';

export function registerAuditLogsRoutes(app: OpenAPIHono<AppEnv>): void {
  // The export's literal path first, so it is never read as something else.
  exportRoute.register(app);
  list.register(app);
}
