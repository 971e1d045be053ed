import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { limitRequests, organizationBucket, STRIPE_BILLING_WEBHOOK_LIMIT } from '../../middleware/request-limit.ts';
import * as account from './account.ts';
import * as webhook from './webhook.ts';

// Plan billing on the platform's Stripe account (issue #16 part 8): the organization's subscription, checkout and
// portal on tenant hosts, the billing webhook on the platform host.
export function registerBillingRoutes(app: OpenAPIHono<AppEnv>): void {
  account.register(app);
  app.use(webhook.route.path, limitRequests(STRIPE_BILLING_WEBHOOK_LIMIT, organizationBucket));
  webhook.register(app);
}
