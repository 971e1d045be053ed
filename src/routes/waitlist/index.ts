import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as claim from './claim.ts';
import * as decline from './decline.ts';
import * as join from './join.ts';
import * as list from './list.ts';
import * as remove from './remove.ts';

/** Waitlist with automatic offers (issue #18 part 2). */
export function registerWaitlistRoutes(app: OpenAPIHono<AppEnv>): void {
  join.register(app);
  claim.register(app);
  decline.register(app);
  list.register(app);
  remove.register(app);
}
