import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { IDEMPOTENCY_HEADER, idempotencyKey } from '../../lib/idempotency.ts';
import { requireLiveKey, requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { getBilling, openBillingPortal, startPlanCheckout } from '../../services/billing/account.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import {
  BillingSchema,
  PlanCheckoutRequestSchema,
  PlanCheckoutSchema,
  PortalRequestSchema,
  PortalSchema,
} from './schema.ts';

export const getRoute = createRoute({
  method: 'get',
  path: '/api/v1/organization/billing',
  operationId: 'getBilling',
  tags: ['Billing'],
  summary: 'Get the plan subscription',
  description:
    "The organization's plan (the one whose limits apply), its Stripe subscription (status, period end, whether it " +
    'ends at the period end), a scheduled plan change (`nextPlan`: starter at the period end after a cancellation) ' +
    'and the dunning state after failed payments. Organization hosts only; needs `billing:manage` (owners). One ' +
    'database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('billing:manage')] as const,
  responses: {
    200: {
      description: 'The plan subscription.',
      content: {
        'application/json': {
          schema: BillingSchema,
          example: {
            plan: 'pro',
            subscription: {
              status: 'active',
              plan: 'pro',
              currentPeriodEnd: '2027-01-01T00:00:00.000Z',
              cancelAtPeriodEnd: true,
            },
            nextPlan: { plan: 'starter', effectiveAt: '2027-01-01T00:00:00.000Z' },
            dunning: { status: 'none', failedPayments: 0, startedAt: null, lastFailedAt: null, downgradeAt: null },
          },
        },
      },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export const checkoutRoute = createRoute({
  method: 'post',
  path: '/api/v1/organization/billing/checkout',
  operationId: 'startPlanCheckout',
  tags: ['Billing'],
  summary: 'Subscribe to a paid plan',
  description:
    "Answers the URL of a Stripe Checkout Session (subscription mode, on the platform's Stripe account) for the " +
    "paid plan's price: send the owner there. The organization's Stripe customer is created on its first checkout " +
    'and reused after; the session carries the organization id (`client_reference_id`, metadata). The plan changes ' +
    'when Stripe reports the subscription to the platform billing webhook, not by this call. An organization that ' +
    'already has a live subscription changes or cancels its plan in the billing portal (409 here), as does one ' +
    'already on the plan. A plan without a configured price answers 422; plan billing not configured 503; Stripe ' +
    'refusing or not answering 502 (`payment_provider_error`; retry). `Idempotency-Key` is honoured. Audited ' +
    '(`billing.checkout_started`). Organization hosts only; needs `billing:manage`; test API keys are refused. ' +
    'Round trips: one database read and one write, two Stripe calls at most.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [
    tenantOnly(),
    requirePermission('billing:manage'),
    requireRecentAuth(),
    requireLiveKey(),
    idempotent(),
  ] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: PlanCheckoutRequestSchema } } },
  },
  responses: {
    200: {
      description: 'The Checkout Session.',
      content: { 'application/json': { schema: PlanCheckoutSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
  },
});

export const portalRoute = createRoute({
  method: 'post',
  path: '/api/v1/organization/billing/portal',
  operationId: 'openBillingPortal',
  tags: ['Billing'],
  summary: 'Open the billing portal',
  description:
    "Answers the URL of a Stripe billing portal session for the organization's customer: there owners upgrade or " +
    'downgrade the plan (a downgrade takes effect at the end of the paid period), cancel, replace the payment method ' +
    'and pay open invoices. Changes reach the API through the platform billing webhook. Before the first checkout ' +
    'there is no customer (409). Plan billing not configured 503; Stripe refusing or not answering 502. Audited ' +
    '(`billing.portal_opened`). Organization hosts only; needs `billing:manage`; test API keys are refused. Round ' +
    'trips: one database read and one write, one Stripe call.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('billing:manage'), requireRecentAuth(), requireLiveKey()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: PortalRequestSchema } } },
  },
  responses: {
    200: { description: 'The portal session.', content: { 'application/json': { schema: PortalSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 502, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getRoute, async (c) => {
    const billing = await getBilling({ ctx: serviceContext(c) });
    return c.json(responseBody(c, BillingSchema, billing), 200, { 'cache-control': 'no-store' });
  });
  app.openapi(checkoutRoute, async (c) => {
    const key = idempotencyKey(c.req.header(IDEMPOTENCY_HEADER));
    const checkout = await startPlanCheckout({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), ...(key === undefined ? {} : { idempotencyKey: key }) },
    });
    return c.json(responseBody(c, PlanCheckoutSchema, checkout), 200, { 'cache-control': 'no-store' });
  });
  app.openapi(portalRoute, async (c) => {
    const portal = await openBillingPortal({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, PortalSchema, portal), 200, { 'cache-control': 'no-store' });
  });
}
