import { parseBillingPrices, type Bindings } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { Logger } from '../../lib/logger.ts';
import type { PlanName } from '../plans/catalogue.ts';
import { stripeClient, type StripeClient } from '../payments/stripe.ts';

/** The plans an organization pays for through Stripe Billing; starter is free and has no subscription. */
export const PAID_PLANS = ['pro', 'enterprise'] as const satisfies readonly PlanName[];
export type PaidPlan = (typeof PAID_PLANS)[number];

/** The dunning schedule's defaults (BILLING_DUNNING_MAX_FAILURES, BILLING_DUNNING_GRACE_DAYS). */
export const DEFAULT_DUNNING_MAX_FAILURES = 3;
export const DEFAULT_DUNNING_GRACE_DAYS = 14;

export interface DunningSchedule {
  /** Downgrade once this many payments of the current run have failed ... */
  maxFailures: number;
  /** ... or this many days after the first of them, whichever comes first. */
  graceDays: number;
}

type BillingBindings = Pick<
  Bindings,
  | 'ENVIRONMENT'
  | 'STRIPE_API_BASE'
  | 'STRIPE_BILLING_SECRET_KEY'
  | 'STRIPE_BILLING_WEBHOOK_SECRET'
  | 'STRIPE_BILLING_PRICES'
  | 'BILLING_DUNNING_MAX_FAILURES'
  | 'BILLING_DUNNING_GRACE_DAYS'
>;

export function dunningSchedule(
  bindings: Pick<Bindings, 'BILLING_DUNNING_MAX_FAILURES' | 'BILLING_DUNNING_GRACE_DAYS'>,
): DunningSchedule {
  return {
    maxFailures: bindings.BILLING_DUNNING_MAX_FAILURES ?? DEFAULT_DUNNING_MAX_FAILURES,
    graceDays: bindings.BILLING_DUNNING_GRACE_DAYS ?? DEFAULT_DUNNING_GRACE_DAYS,
  };
}

/** The Stripe Price of each paid plan (STRIPE_BILLING_PRICES); a plan without one cannot be bought. */
export function billingPrices(bindings: BillingBindings): Partial<Record<PaidPlan, string>> {
  return (
    (bindings.STRIPE_BILLING_PRICES === undefined ? null : parseBillingPrices(bindings.STRIPE_BILLING_PRICES)) ?? {}
  );
}

/** The paid plan a Stripe Price stands for, or null for a price this deployment does not sell. */
export function planOfPrice(bindings: BillingBindings, price: string | null): PaidPlan | null {
  if (price === null) return null;
  const prices = billingPrices(bindings);
  return PAID_PLANS.find((plan) => prices[plan] === price) ?? null;
}

/** A Stripe client on the platform's billing key; 503 `service_unavailable` when plan billing is not configured. */
export function billingClient(bindings: BillingBindings, logger: Logger): StripeClient {
  if (bindings.STRIPE_BILLING_SECRET_KEY === undefined) {
    throw new ApiError('service_unavailable', { detail: 'Plan billing is not available on this deployment.' });
  }
  return { ...stripeClient(bindings, bindings.STRIPE_BILLING_SECRET_KEY, logger), account: 'platform' };
}
