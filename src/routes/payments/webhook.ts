import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { handleStripeWebhook } from '../../services/payments/webhook.ts';
import { tenantOnly } from '../organizations/host.ts';
import { WebhookHeadersSchema, WebhookReceiptSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/payments/stripe/webhook',
  operationId: 'receiveStripeWebhook',
  tags: ['Payments'],
  summary: 'Receive Stripe events',
  description:
    "Stripe's webhook endpoint for this organization: configure `https://<organization host>/api/v1/payments/" +
    'stripe/webhook` in the Stripe dashboard (events `checkout.session.completed`, `checkout.session.expired`, ' +
    '`checkout.session.async_payment_succeeded`, `checkout.session.async_payment_failed`, ' +
    '`payment_intent.payment_failed`) and store its signing secret in the payment settings. The body is a Stripe ' +
    'event (JSON), verified byte for byte against the `Stripe-Signature` header with that secret; a missing, ' +
    'malformed, foreign or stale (over 5 minutes) signature answers 400 and changes nothing, as does a body that is ' +
    'not JSON. An organization without Stripe answers 404. Effects: a paid Checkout Session confirms its pending ' +
    'booking (held seats become sold, the payment succeeds with its PaymentIntent id); paid after the booking ' +
    'expired or was cancelled, the payment is recorded as succeeded, the booking stays as it is and a ' +
    '`payment.received_for_inactive_booking` audit row tells staff to refund it; an expired session releases its ' +
    'still-pending booking (`expired`, seats back on sale); a failed payment marks the payment `failed` (the ' +
    'booking stays pending until its hold ends). Every event id is recorded with its effects in one transaction: a ' +
    'replay answers `duplicate: true` and changes nothing. Other event types, and events about bookings of other ' +
    'organizations or unknown here, are acknowledged and ignored. No bearer authentication: the signature is the ' +
    'credential.',
  security: [{ stripeSignature: [] }],
  middleware: [tenantOnly()] as const,
  request: { headers: WebhookHeadersSchema },
  responses: {
    200: {
      description: 'The event was received (processed, replayed or ignored).',
      content: {
        'application/json': {
          schema: WebhookReceiptSchema,
          example: { received: true, duplicate: false, outcome: 'confirmed' },
        },
      },
    },
    ...errorResponses(400, 404, 413, 500, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const receipt = await handleStripeWebhook({
      ctx: serviceContext(c),
      input: { body, signature: c.req.valid('header')['stripe-signature'] },
    });
    return c.json(responseBody(c, WebhookReceiptSchema, receipt), 200, { 'cache-control': 'no-store' });
  });
}
