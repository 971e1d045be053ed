import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as cancelDeletion from './cancel-deletion.ts';
import * as create from './create.ts';
import * as detail from './detail.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as planOverrides from './plan-overrides.ts';
import * as scheduleDeletion from './schedule-deletion.ts';
import * as update from './update.ts';

export function registerOrganizationsRoutes(app: OpenAPIHono<AppEnv>): void {
  create.register(app);
  list.register(app);
  get.register(app);
  detail.register(app);
  update.register(app);
  planOverrides.register(app);
  scheduleDeletion.register(app);
  cancelDeletion.register(app);
}
