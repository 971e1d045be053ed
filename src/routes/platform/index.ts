import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as auditLogs from './audit-logs.ts';
import * as deadLetters from './dead-letters.ts';
import * as endImpersonation from './end-impersonation.ts';
import * as dataRights from './data-rights.ts';
import * as get from './get.ts';
import * as getImpersonation from './get-impersonation.ts';
import * as list from './list.ts';
import * as metrics from './metrics.ts';
import * as revokeSessions from './revoke-sessions.ts';
import * as startImpersonation from './start-impersonation.ts';

/**
 * Platform administration (issue #16 part 1): accounts (search, detail, ending every session; a data subject's export
 * and erasure, part 6), the audit log, support impersonation (start, read, end), the dashboard metrics and the dead
 * letters behind them.
 */
export function registerPlatformRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  get.register(app);
  revokeSessions.register(app);
  dataRights.register(app);
  auditLogs.register(app);
  startImpersonation.register(app);
  getImpersonation.register(app);
  endImpersonation.register(app);
  metrics.register(app);
  deadLetters.register(app);
}
