import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { limitRequests, organizationBucket, STRIPE_WEBHOOK_LIMIT } from '../../middleware/request-limit.ts';
import * as settings from './settings.ts';
import * as webhook from './webhook.ts';

// Payment settings and the Stripe webhook. The buyer's Stripe checkout is a public route (routes/public/checkout.ts).
export function registerPaymentsRoutes(app: OpenAPIHono<AppEnv>): void {
  settings.register(app);
  app.use(webhook.route.path, limitRequests(STRIPE_WEBHOOK_LIMIT, organizationBucket));
  webhook.register(app);
}
