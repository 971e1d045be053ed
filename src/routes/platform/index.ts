import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as auditLogs from './audit-logs.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as metrics from './metrics.ts';
import * as revokeSessions from './revoke-sessions.ts';

/** Platform administration (issue #16 part 1): accounts (search, detail, ending every session), the audit log, the dashboard metrics. */
export function registerPlatformRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  get.register(app);
  revokeSessions.register(app);
  auditLogs.register(app);
  metrics.register(app);
}
