import { z } from '@hono/zod-openapi';
import { STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET } from '../../services/payments/settings.ts';

// ---------------------------------------------------------------------------------------------------------------
// Payment settings
// ---------------------------------------------------------------------------------------------------------------

export const MAX_MANUAL_INSTRUCTIONS = 5000;
/** Stripe's documented upper bound for API keys; webhook signing secrets are far shorter. */
export const MAX_STRIPE_SECRET = 255;
/** A Stripe-Signature header: a timestamp and one signature per active secret, far below this. */
const MAX_STRIPE_SIGNATURE = 4096;

export const PaymentSettingsSchema = z
  .object({
    manualEnabled: z.boolean().openapi({
      description: 'Whether buyers may choose manual (offline) payment, confirmed by staff. Off by default (opt-in).',
      example: true,
    }),
    manualInstructions: z.string().max(MAX_MANUAL_INSTRUCTIONS).openapi({
      description: 'Shown to buyers who pay manually (bank details, reference to quote, ...).',
      example: 'IBAN DE02 1203 0000 0000 2020 51, reference: your booking id.',
    }),
    stripe: z
      .object({
        configured: z.boolean().openapi({
          description: 'Whether Stripe keys are stored; paid orders then default to Stripe Checkout.',
          example: true,
        }),
        // As stripeAccountHint writes it: `sk_test_…` and the key's last four characters.
        accountHint: z
          .string()
          .max(13)
          .regex(/^(?:sk|rk)_(?:test|live)_…[A-Za-z0-9]{4}$/)
          .nullable()
          .openapi({
            description:
              'The kind, mode and last four characters of the stored key, to recognise it; null without Stripe.',
            example: 'sk_test_…4xQz',
          }),
        mode: z
          .enum(['test', 'live'])
          .nullable()
          .openapi({ description: 'The mode of the stored key; null without Stripe.', example: 'test' }),
      })
      .openapi({ description: 'Stripe, without its secrets (they are never returned).' }),
  })
  .openapi('PaymentSettings', { description: "The organization's payment methods." });

export const PaymentSettingsUpdateSchema = z
  .object({
    manualEnabled: z.boolean().optional().openapi({ description: 'Offer manual (offline) payment.', example: true }),
    manualInstructions: z
      .string()
      .max(MAX_MANUAL_INSTRUCTIONS)
      .optional()
      .openapi({
        description: `Instructions for manual payment, up to ${MAX_MANUAL_INSTRUCTIONS} characters.`,
        example: 'IBAN DE02 1203 0000 0000 2020 51, reference: your booking id.',
      }),
    stripe: z
      .object({
        secretKey: z
          .string()
          .max(MAX_STRIPE_SECRET)
          .regex(
            STRIPE_SECRET_KEY,
            'Must be a Stripe secret key (sk_test_..., sk_live_...) or restricted key (rk_...).',
          )
          .openapi({
            description:
              'The Stripe secret or restricted key (needs write access to Checkout Sessions and Refunds), at most ' +
              `${MAX_STRIPE_SECRET} characters. Stored encrypted; never returned.`,
            example: 'sk_test_51Hx9mDExampleKey0000',
          }),
        webhookSecret: z
          .string()
          .max(MAX_STRIPE_SECRET)
          .regex(STRIPE_WEBHOOK_SECRET, 'Must be a Stripe webhook signing secret (whsec_...).')
          .openapi({
            description:
              'The signing secret of the webhook endpoint you created in Stripe for ' +
              '`https://<this host>/api/v1/payments/stripe/webhook`. Stored encrypted; never returned.',
            example: 'whsec_Example0Signing0Secret',
          }),
      })
      .strict()
      .nullable()
      .optional()
      .openapi({ description: 'Both Stripe secrets (replacing stored ones), or null to remove Stripe.' }),
  })
  .strict()
  .openapi('PaymentSettingsUpdate', {
    description: 'The settings to change; fields left out keep their value.',
    example: {
      manualEnabled: true,
      stripe: { secretKey: 'sk_test_51Hx9mDExampleKey0000', webhookSecret: 'whsec_Example0Signing0Secret' },
    },
  });

// ---------------------------------------------------------------------------------------------------------------
// Stripe webhook
// ---------------------------------------------------------------------------------------------------------------

export const WebhookHeadersSchema = z.object({
  'stripe-signature': z
    .string()
    .max(MAX_STRIPE_SIGNATURE)
    .optional()
    .openapi({
      param: { name: 'stripe-signature', in: 'header' },
      description: "Stripe's signature of the raw body: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. Required.",
      example: 't=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd',
    }),
});

export const WebhookReceiptSchema = z
  .object({
    received: z.literal(true).openapi({ description: 'The event was accepted.', example: true }),
    duplicate: z.boolean().openapi({
      description: 'true when this event id was processed before: nothing changed again.',
      example: false,
    }),
    outcome: z.enum(['confirmed', 'payment_recorded', 'released', 'payment_failed', 'unchanged', 'ignored']).openapi({
      description:
        '`confirmed`: the booking was paid and confirmed; `payment_recorded`: paid, but the booking was no longer ' +
        'pending (staff must refund it); `released`: the Checkout Session expired and the seats went back on sale; ' +
        '`payment_failed`: the payment attempt failed (the booking stays pending until it expires); `unchanged`: ' +
        'nothing to do (already handled or no longer applicable); `ignored`: an event type or booking this ' +
        'endpoint does not act on.',
      example: 'confirmed',
    }),
  })
  .openapi('StripeWebhookReceipt', { description: 'The acknowledgement Stripe receives.' });
