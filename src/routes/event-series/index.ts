import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as create from './create.ts';
import * as dates from './dates.ts';
import * as end from './end.ts';
import * as get from './get.ts';
import * as list from './list.ts';
import * as update from './update.ts';

export function registerEventSeriesRoutes(app: OpenAPIHono<AppEnv>): void {
  list.register(app);
  create.register(app);
  get.register(app);
  update.register(app);
  dates.register(app);
  end.register(app);
}
