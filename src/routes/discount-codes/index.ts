import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';
import * as remove from './delete.ts';
import * as list from './list.ts';
import * as update from './update.ts';

export function registerDiscountCodesRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  create.register(app);
  update.register(app);
  remove.register(app);
}
