import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';
import * as download from './download.ts';
import * as get from './get.ts';
import * as list from './list.ts';

export function registerExportRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  create.register(app);
  get.register(app);
  download.register(app);
}
