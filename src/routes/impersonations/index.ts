import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as end from './end.ts';
import * as list from './list.ts';

/** An organization's view of the platform's support impersonations of its members (issue #16 part 1). */
export function registerImpersonationsRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  end.register(app);
}
