import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';
import * as remove from './delete.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as update from './update.ts';

/** The platform's feature flag registry (issue #16 part 7), on the platform host. */
export function registerFeatureFlagsRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  create.register(app);
  get.register(app);
  update.register(app);
  remove.register(app);
}
