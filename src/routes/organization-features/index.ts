import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import * as features from './features.ts';
import * as usage from './usage.ts';

export function registerOrganizationFeaturesRoutes(app: OpenAPIHono<AppEnv>): void {
  features.register(app);
  usage.register(app);
}
