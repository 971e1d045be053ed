import { z } from '@hono/zod-openapi';
import { message, type Branding, type EmailMessage } from './messages.ts';

/** The `email.billing_notice` payload: a failed plan payment, or the downgrade at the end of the dunning schedule. */
export const BillingNoticePayloadSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('payment_failed'),
    plan: z.enum(['starter', 'pro', 'enterprise']),
    failedPayments: z.number().int().min(1),
    maxFailures: z.number().int().min(1),
    downgradeAt: z.iso.datetime(),
  }),
  z.object({
    kind: z.literal('downgraded'),
    from: z.enum(['starter', 'pro', 'enterprise']),
    failedPayments: z.number().int().min(0),
  }),
]);
export type BillingNoticePayload = z.infer<typeof BillingNoticePayloadSchema>;

/** The notice to one owner of the organization about its plan's payments. */
export function billingNoticeEmail(input: {
  id: string;
  to: string;
  name: string;
  notice: BillingNoticePayload;
  branding: Branding;
}): EmailMessage {
  const { notice, branding } = input;
  const name = branding.displayName;
  if (notice.kind === 'payment_failed') {
    return message(input.id, input.to, branding, `A payment for the ${notice.plan} plan of ${name} failed`, [
      `Hello ${input.name},`,
      `The payment for the ${notice.plan} plan of ${name} failed (${notice.failedPayments} of ` +
        `${notice.maxFailures} failed attempts). Stripe retries it; update the payment method in the billing ` +
        'portal (POST /api/v1/organization/billing/portal) to keep the plan.',
      `Unless a payment succeeds, the organization moves to the starter plan after ${notice.maxFailures} failed ` +
        `attempts or on ${notice.downgradeAt.slice(0, 10)}, whichever comes first. No data is deleted.`,
      'You receive this email as an owner of the organization.',
    ]);
  }
  return message(input.id, input.to, branding, `${name} moved to the starter plan`, [
    `Hello ${input.name},`,
    `After ${notice.failedPayments} failed payments, ${name} moved from the ${notice.from} plan to the starter plan. ` +
      'Nothing was deleted: what exceeds the starter limits stays, but no more can be added beyond them.',
    'Pay the open invoice in the billing portal to get the plan back at once.',
    'You receive this email as an owner of the organization.',
  ]);
}
