import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as revokeSessions from './revoke-sessions.ts';

/** Platform administration of accounts (issue #16 part 1): search, detail, ending every session. */
export function registerPlatformUsersRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  get.register(app);
  revokeSessions.register(app);
}
