import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireLiveKey, requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { getPaymentSettings, updatePaymentSettings } from '../../services/payments/settings.ts';
import { tenantOnly } from '../organizations/host.ts';
import { PaymentSettingsSchema, PaymentSettingsUpdateSchema } from './schema.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

const EXAMPLE = {
  manualEnabled: true,
  manualInstructions: 'IBAN DE02 1203 0000 0000 2020 51, reference: your booking id.',
  stripe: { configured: true, accountHint: 'sk_test_…0000', mode: 'test' as const },
};

export const getRoute = createRoute({
  method: 'get',
  path: '/api/v1/organization/payment-settings',
  operationId: 'getPaymentSettings',
  tags: ['Payments'],
  summary: 'Get the payment settings',
  description:
    "The organization's payment methods: manual payment (off until enabled) with its instructions, and whether Stripe " +
    'is configured, with a hint of the stored key and its mode. Stripe secrets are never returned. Organization ' +
    'hosts only; needs `billing:manage`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('billing:manage')] as const,
  responses: {
    200: {
      description: 'The payment settings.',
      content: { 'application/json': { schema: PaymentSettingsSchema, example: EXAMPLE } },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export const putRoute = createRoute({
  method: 'put',
  path: '/api/v1/organization/payment-settings',
  operationId: 'updatePaymentSettings',
  tags: ['Payments'],
  summary: 'Change the payment settings',
  description:
    'Changes the given fields; the others keep their value. `stripe` takes both the secret key (`sk_`/`rk_`, test ' +
    'or live) and the signing secret (`whsec_`) of the Stripe webhook endpoint ' +
    '`https://<this host>/api/v1/payments/stripe/webhook`; they are stored encrypted (AES-256-GCM, bound to this ' +
    'organization) and never returned or logged. `stripe: null` removes Stripe: new paid orders then use manual ' +
    'payment if `manualEnabled` is on, else are refused (Stripe bookings already pending can no longer start a ' +
    'checkout, and their webhooks are refused). Manual payment is opt-in: unpaid manual orders hold seats for 2 days. ' +
    'A request that changes something writes a `payment_settings.updated` audit row naming the changed fields ' +
    '(never the secrets). Keys are not checked with Stripe here; a wrong key shows up as a 502 at checkout. ' +
    'Organization hosts only; needs `billing:manage`.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('billing:manage'), requireRecentAuth(), requireLiveKey()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: PaymentSettingsUpdateSchema } } },
  },
  responses: {
    200: {
      description: 'The payment settings after the change.',
      content: { 'application/json': { schema: PaymentSettingsSchema, example: EXAMPLE } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getRoute, async (c) => {
    const settings = await getPaymentSettings({ ctx: serviceContext(c) });
    return c.json(responseBody(c, PaymentSettingsSchema, settings), 200, { 'cache-control': 'no-store' });
  });
  app.openapi(putRoute, async (c) => {
    const settings = await updatePaymentSettings({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, PaymentSettingsSchema, settings), 200, { 'cache-control': 'no-store' });
  });
}
