import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as docs from './docs.ts';
import * as jwks from './jwks.ts';
import * as openapi from './openapi.ts';

export function registerMetaRoutes(app: OpenAPIHono<AppEnv>): void {
  openapi.register(app);
  docs.register(app);
  jwks.register(app);
}
