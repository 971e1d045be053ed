import { z } from '@hono/zod-openapi';
import { PAID_PLANS } from '../../services/billing/config.ts';
import { httpsUrl } from '../events/schema.ts';
import { int32, Timestamp } from '../fields.ts';

const PLAN = z.enum(['starter', 'pro', 'enterprise']);
const STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
] as const;

export const BillingSchema = z
  .object({
    plan: PLAN.openapi({ description: 'The plan in force now (its limits apply).', example: 'pro' }),
    subscription: z
      .object({
        status: z.enum(STATUSES).openapi({
          description: "The Stripe subscription's status (`past_due`: a payment failed and is being retried).",
          example: 'active',
        }),
        plan: z.enum(PAID_PLANS).nullable().openapi({
          description: "The plan the subscription's price pays for; null for a price this platform does not sell.",
          example: 'pro',
        }),
        currentPeriodEnd: Timestamp.nullable().openapi({
          description: 'When the paid period ends (UTC): the next renewal, or the end of a cancelled subscription.',
          example: '2027-01-01T00:00:00.000Z',
        }),
        cancelAtPeriodEnd: z.boolean().openapi({
          description: 'true when the subscription ends at `currentPeriodEnd` (a downgrade to starter is scheduled).',
          example: false,
        }),
      })
      .nullable()
      .openapi({ description: 'The plan subscription on Stripe; null before the first one.' }),
    nextPlan: z
      .object({
        plan: PLAN.openapi({ description: 'The plan that will be in force.', example: 'starter' }),
        effectiveAt: Timestamp.nullable().openapi({
          description: 'When it takes effect (UTC).',
          example: '2027-01-01T00:00:00.000Z',
        }),
      })
      .nullable()
      .openapi({ description: 'A scheduled plan change (a downgrade at the end of the period); null when none.' }),
    dunning: z
      .object({
        status: z.enum(['none', 'retrying', 'downgraded']).openapi({
          description:
            '`retrying`: plan payments failed and Stripe retries them; `downgraded`: the dunning schedule moved the ' +
            'organization to starter until a payment succeeds; `none`: payments are in order.',
          example: 'none',
        }),
        failedPayments: int32(0, 10_000).openapi({
          description: 'Failed payments in the current run of failures.',
          example: 0,
        }),
        startedAt: Timestamp.nullable().openapi({ description: 'The first failed payment of the run.', example: null }),
        lastFailedAt: Timestamp.nullable().openapi({ description: 'The latest failed payment.', example: null }),
        downgradeAt: Timestamp.nullable().openapi({
          description:
            'While `retrying`: the latest moment of the downgrade to starter (it comes earlier once the number of ' +
            'failed payments reaches the limit).',
          example: null,
        }),
      })
      .openapi({ description: 'Failed payments and the dunning schedule.' }),
  })
  .openapi('Billing', { description: "The organization's plan subscription." });

export const PlanCheckoutRequestSchema = z
  .object({
    plan: z.enum(PAID_PLANS).openapi({ description: 'The paid plan to subscribe to.', example: 'pro' }),
    successUrl: httpsUrl()
      .optional()
      .openapi({
        format: 'uri-template',
        description:
          'Where Stripe sends the owner after subscribing (https; may contain `{CHECKOUT_SESSION_ID}`). Default: ' +
          '`https://<this host>/settings/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}`.',
        example: 'https://admin.example.com/billing/done?session_id={CHECKOUT_SESSION_ID}',
      }),
    cancelUrl: httpsUrl()
      .optional()
      .openapi({
        description:
          'Where Stripe sends the owner who goes back without subscribing (https). Default: ' +
          '`https://<this host>/settings/billing?checkout=cancelled`.',
        example: 'https://admin.example.com/billing',
      }),
  })
  .strict()
  .openapi('PlanCheckoutRequest', { description: 'The plan to buy, with optional return URLs.' });

const STRIPE_URL = z
  .string()
  .max(4096)
  .regex(/^https:\/\//);

export const PlanCheckoutSchema = z
  .object({
    checkoutUrl: STRIPE_URL.openapi({
      description: 'The Stripe Checkout page (https): send the owner there.',
      example: 'https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6g7H8',
    }),
    sessionId: z
      .string()
      .max(255)
      .openapi({ description: 'The Stripe Checkout Session id.', example: 'cs_test_a1B2c3D4e5F6g7H8' }),
    expiresAt: Timestamp.openapi({
      description: 'When the Checkout Session expires (UTC).',
      example: '2026-12-04T09:00:00.000Z',
    }),
  })
  .openapi('PlanCheckout', { description: 'A Stripe Checkout Session for a plan subscription.' });

export const PortalRequestSchema = z
  .object({
    returnUrl: httpsUrl().optional().openapi({
      description: 'Where the portal sends the owner back (https). Default: `https://<this host>/settings/billing`.',
      example: 'https://admin.example.com/billing',
    }),
  })
  .strict()
  .openapi('BillingPortalRequest', { description: 'An optional return URL (send `{}` for the default).' });

export const PortalSchema = z
  .object({
    portalUrl: STRIPE_URL.openapi({
      description: "Stripe's billing portal for the organization (short-lived): send the owner there.",
      example: 'https://billing.stripe.com/p/session/test_YWNjdF8xTjB4',
    }),
  })
  .openapi('BillingPortal', { description: 'A Stripe billing portal session.' });

export const BillingWebhookReceiptSchema = z
  .object({
    received: z.literal(true).openapi({ description: 'The event was accepted.', example: true }),
    duplicate: z.boolean().openapi({
      description: 'true when this event id was applied before: nothing changed again.',
      example: false,
    }),
    outcome: z.enum(['plan_updated', 'subscription_updated', 'dunning', 'recovered', 'unchanged', 'ignored']).openapi({
      description:
        "`plan_updated`: the organization's plan changed; `subscription_updated`: the subscription state was " +
        'stored, the plan stayed; `dunning`: a failed payment was recorded; `recovered`: a payment ended dunning; ' +
        '`unchanged`: out of order or nothing to do; `ignored`: an event type or organization billing does not ' +
        'act on.',
      example: 'plan_updated',
    }),
  })
  .openapi('BillingWebhookReceipt', { description: 'The acknowledgement Stripe receives.' });
