import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { handleBillingWebhook } from '../../services/billing/webhook.ts';
import { platformOnly } from '../organizations/host.ts';
import { WebhookHeadersSchema } from '../payments/schema.ts';
import { responseBody } from '../response.ts';
import { BillingWebhookReceiptSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/billing/webhooks',
  operationId: 'receiveBillingWebhook',
  tags: ['Billing'],
  summary: 'Receive Stripe Billing events',
  description:
    "The platform's Stripe Billing webhook (platform host only): configure `https://<root domain>/api/v1/billing/" +
    "webhooks` on the PLATFORM's Stripe account with the events `checkout.session.completed`, " +
    '`customer.subscription.created`, `customer.subscription.updated`, `customer.subscription.deleted`, ' +
    '`invoice.payment_failed` and `invoice.paid`, and its signing secret as STRIPE_BILLING_WEBHOOK_SECRET. The body ' +
    'is verified byte for byte against `Stripe-Signature` (5 minutes tolerance); a missing, malformed, foreign or ' +
    'stale signature, or a body that is not a Stripe event, answers 400 and changes nothing. Not configured: 404. ' +
    "Effects: the subscription (after a checkout it is read from Stripe) sets the organization's plan: its paid " +
    'plan while active, trialing or past_due, starter once canceled, unpaid, incomplete or paused; a cancellation ' +
    'at the period end keeps the plan until Stripe ends the subscription. A failed invoice starts or continues ' +
    "dunning and emails the organization's owners; a paid one ends it and restores a plan the dunning schedule " +
    'took away. Subscription states older than the stored one (out of order) change nothing. Every event id is ' +
    'recorded with its effects in one transaction: a replay answers `duplicate: true`. Events for organizations ' +
    'unknown here are acknowledged and ignored. A concurrent change answers 409 (Stripe retries). No bearer ' +
    'authentication: the signature is the credential.',
  security: [{ stripeSignature: [] }],
  middleware: [platformOnly()] as const,
  request: { headers: WebhookHeadersSchema },
  responses: {
    200: {
      description: 'The event was received (applied, replayed or ignored).',
      content: {
        'application/json': {
          schema: BillingWebhookReceiptSchema,
          example: { received: true, duplicate: false, outcome: 'plan_updated' },
        },
      },
    },
    ...errorResponses(400, 404, 409, 413, 429, 500, 502, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const receipt = await handleBillingWebhook({
      ctx: serviceContext(c),
      input: { body, signature: c.req.valid('header')['stripe-signature'] },
    });
    return c.json(responseBody(c, BillingWebhookReceiptSchema, receipt), 200, { 'cache-control': 'no-store' });
  });
}
