import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as discovery from './discovery.ts';
import * as groups from './groups.ts';
import * as users from './users.ts';

export function registerScimRoutes(app: OpenAPIHono<AppEnv>): void {
  discovery.register(app);
  users.register(app);
  groups.register(app);
}
