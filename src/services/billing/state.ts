import { subscriptionStatus, type OrganizationBilling, type SubscriptionStatus } from '../../db/schema/index.ts';
import type { Bindings } from '../../env.ts';
import { stripeId } from '../payments/stripe.ts';
import { isRecord, text } from '../payments/webhook.ts';
import type { PlanName } from '../plans/catalogue.ts';
import { dunningSchedule, planOfPrice, type PaidPlan } from './config.ts';

/** Statuses in which a subscription pays for its plan (past_due: payments are being retried, see dunning). */
const PAYING: readonly SubscriptionStatus[] = ['active', 'trialing', 'past_due'];
/** Statuses a subscription never leaves: a new subscription is needed. */
export const TERMINAL: readonly SubscriptionStatus[] = ['canceled', 'incomplete_expired'];

/** A Stripe subscription as billing reads it. */
export interface SubscriptionSnapshot {
  id: string;
  customer: string | null;
  status: SubscriptionStatus;
  /** The paid plan of its price; null for a price this deployment does not sell. */
  plan: PaidPlan | null;
  price: string | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  /** `metadata.organization_id`, set by the checkout. */
  organizationId: string | null;
}

function isStatus(value: unknown): value is SubscriptionStatus {
  return typeof value === 'string' && (subscriptionStatus.enumValues as readonly string[]).includes(value);
}

/** Reads a Stripe subscription object (webhook `data.object` or GET /v1/subscriptions/{id}); null if it is none. */
export function readSubscription(
  bindings: Parameters<typeof planOfPrice>[0],
  object: Record<string, unknown>,
): SubscriptionSnapshot | null {
  const id = text(object.id);
  if (id === null || !id.startsWith('sub_') || !isStatus(object.status)) return null;
  const items = isRecord(object.items) && Array.isArray(object.items.data) ? (object.items.data as unknown[]) : [];
  const first = items.find(isRecord);
  const price = first ? stripeId(first.price) : null;
  const periodEnd = Number.isSafeInteger(object.current_period_end) ? (object.current_period_end as number) : null;
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  return {
    id,
    customer: stripeId(object.customer),
    status: object.status,
    plan: planOfPrice(bindings, price),
    price,
    currentPeriodEnd: periodEnd === null ? null : new Date(periodEnd * 1000),
    cancelAtPeriodEnd: object.cancel_at_period_end === true,
    organizationId: text(metadata.organization_id),
  };
}

/**
 * The plan a subscription state gives the organization: its paid plan while it pays (active, trialing, past_due),
 * unless the dunning schedule downgraded it; starter once it no longer does (canceled, unpaid, incomplete, paused).
 * Null: keep the current plan (a paying subscription whose price this deployment does not know).
 */
export function planOfSubscription(
  subscription: Pick<SubscriptionSnapshot, 'status' | 'plan'>,
  downgradedByDunning: boolean,
): PlanName | null {
  if (!PAYING.includes(subscription.status)) return 'starter';
  if (downgradedByDunning) return 'starter';
  return subscription.plan;
}

export type DunningStatus = 'none' | 'retrying' | 'downgraded';

export interface BillingView {
  plan: PlanName;
  subscription: {
    status: SubscriptionStatus;
    plan: PaidPlan | null;
    currentPeriodEnd: string | null;
    cancelAtPeriodEnd: boolean;
  } | null;
  nextPlan: { plan: PlanName; effectiveAt: string | null } | null;
  dunning: {
    status: DunningStatus;
    failedPayments: number;
    startedAt: string | null;
    lastFailedAt: string | null;
    downgradeAt: string | null;
  };
}

const iso = (value: Date | null): string | null => value?.toISOString() ?? null;

/** What GET /organization/billing answers, from the organization's plan and its billing row (if any). */
export function billingView(
  bindings: Pick<Bindings, 'BILLING_DUNNING_MAX_FAILURES' | 'BILLING_DUNNING_GRACE_DAYS'>,
  plan: PlanName,
  row: OrganizationBilling | null,
): BillingView {
  const subscription =
    row?.stripeSubscriptionId && row.subscriptionStatus
      ? {
          status: row.subscriptionStatus,
          plan: row.subscriptionPlan === 'starter' ? null : row.subscriptionPlan,
          currentPeriodEnd: iso(row.currentPeriodEnd),
          cancelAtPeriodEnd: row.cancelAtPeriodEnd,
        }
      : null;
  const live = subscription !== null && !TERMINAL.includes(subscription.status);
  const nextPlan =
    live && subscription.cancelAtPeriodEnd && plan !== 'starter'
      ? { plan: 'starter' as const, effectiveAt: subscription.currentPeriodEnd }
      : null;
  const startedAt = row?.dunningStartedAt ?? null;
  const { graceDays } = dunningSchedule(bindings);
  const status: DunningStatus = startedAt === null ? 'none' : row?.dunningDowngradedAt ? 'downgraded' : 'retrying';
  return {
    plan,
    subscription,
    nextPlan,
    dunning: {
      status,
      failedPayments: row?.dunningFailures ?? 0,
      startedAt: iso(startedAt),
      lastFailedAt: iso(row?.lastPaymentFailedAt ?? null),
      downgradeAt:
        status === 'retrying' && startedAt !== null
          ? new Date(startedAt.getTime() + graceDays * 86_400_000).toISOString()
          : null,
    },
  };
}
