import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { addressBucket, limitRequests, META_READ_LIMIT } from '../../middleware/request-limit.ts';
import * as docs from './docs.ts';
import * as jwks from './jwks.ts';
import * as openapi from './openapi.ts';

export function registerMetaRoutes(app: OpenAPIHono<AppEnv>): void {
  for (const route of [openapi.route, docs.route, jwks.route]) {
    app.use(route.path, limitRequests(META_READ_LIMIT, addressBucket));
  }
  openapi.register(app);
  docs.register(app);
  jwks.register(app);
}
