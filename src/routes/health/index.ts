import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { addressBucket, limitRequests, META_READ_LIMIT } from '../../middleware/request-limit.ts';
import * as live from './live.ts';
import * as ready from './ready.ts';

export function registerHealthRoutes(app: OpenAPIHono<AppEnv>): void {
  // Liveness stays unlimited: it does no I/O and must answer even when Redis is down. Readiness queries the database
  // and Redis on every call, so it is limited per address like the other unauthenticated reads.
  live.register(app);
  app.use(ready.route.path, limitRequests(META_READ_LIMIT, addressBucket));
  ready.register(app);
}
