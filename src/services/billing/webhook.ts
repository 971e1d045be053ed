import { eq, or, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { billingEvents, organizationBilling, organizations, type OrganizationBilling } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { abortLabel, concurrentChange, mustChange } from '../events/shared.ts';
import { retrieveSubscription, stripeId, verifyStripeSignature } from '../payments/stripe.ts';
import { isRecord, parseEvent, signatureProblem, text, type StripeEvent } from '../payments/webhook.ts';
import type { PlanName } from '../plans/catalogue.ts';
import { billingClient, dunningSchedule } from './config.ts';
import { billingNotice } from './notices.ts';
import { forgetPlanHosts, planChangeStatements, type PlanChangeReason } from './plan-change.ts';
import { planOfSubscription, readSubscription, TERMINAL, type SubscriptionSnapshot } from './state.ts';

export type BillingWebhookOutcome =
  'plan_updated' | 'subscription_updated' | 'dunning' | 'recovered' | 'unchanged' | 'ignored';

export interface BillingWebhookReceipt {
  received: true;
  duplicate: boolean;
  outcome: BillingWebhookOutcome;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Target {
  organization: { id: string; slug: string; plan: PlanName };
  billing: OrganizationBilling | null;
}

/** The organization an event names: its Stripe customer (as stored) and the organization id the checkout tagged. */
function references(event: StripeEvent): { customer: string | null; organizationId: string | null } {
  const { object } = event;
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const details = isRecord(object.subscription_details) ? object.subscription_details : {};
  const detailsMetadata = isRecord(details.metadata) ? details.metadata : {};
  const organizationId =
    text(metadata.organization_id) ?? text(detailsMetadata.organization_id) ?? text(object.client_reference_id);
  return {
    customer: stripeId(object.customer),
    organizationId: organizationId !== null && UUID.test(organizationId) ? organizationId.toLowerCase() : null,
  };
}

/**
 * POST /api/v1/billing/webhooks on the platform host: Stripe Billing events of the PLATFORM's Stripe account. The
 * signature is checked over the raw body with STRIPE_BILLING_WEBHOOK_SECRET (5 minutes tolerance) before anything is
 * parsed. The organization is found by its stored Stripe customer, else by the `organization_id` the checkout put
 * in the metadata; an event naming none is acknowledged, logged and ignored. Each applied event id is recorded in
 * `billing_events` in the batch of its effects (an insert that aborts the batch when the id is known), so a replay
 * changes nothing and answers `duplicate: true`.
 *
 * Ordering: a subscription state carries when Stripe produced it (the event's `created`, or the moment it was read
 * from Stripe for checkout.session.completed); a state older than the stored one is out of order and ignored.
 * Round trips: one read, at most one Stripe call (checkout.session.completed), one write batch.
 */
export async function handleBillingWebhook({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { body: Uint8Array; signature: string | undefined };
}): Promise<BillingWebhookReceipt> {
  const secret = ctx.bindings.STRIPE_BILLING_WEBHOOK_SECRET;
  if (secret === undefined) throw new ApiError('not_found', { detail: 'Plan billing is not configured.' });
  if (input.signature === undefined || input.signature.trim() === '') {
    throw new ApiError('bad_request', { detail: signatureProblem('missing') });
  }
  const check = await verifyStripeSignature(input.body, input.signature, secret);
  if (!check.ok) {
    ctx.logger.warn('billing webhook signature refused', { reason: check.reason });
    throw new ApiError('bad_request', {
      detail: signatureProblem(check.reason, "the platform's billing webhook secret"),
    });
  }
  return new BillingEventProcessor(ctx, parseEvent(input.body)).run();
}

class BillingEventProcessor {
  private readonly ctx: ServiceContext;
  private readonly event: StripeEvent;
  private readonly db: ServiceContext['services']['db'];
  private readonly log: ServiceContext['logger'];
  private target: Target | null = null;

  constructor(ctx: ServiceContext, event: StripeEvent) {
    this.ctx = ctx;
    this.event = event;
    this.db = ctx.services.db;
    this.log = ctx.logger.child({ stripeEventId: event.id, stripeEventType: event.type });
  }

  /** When Stripe made the event (now, when it does not say). */
  private get eventTime(): Date {
    return new Date((this.event.created ?? Math.floor(Date.now() / 1000)) * 1000);
  }

  async run(): Promise<BillingWebhookReceipt> {
    const { type, object } = this.event;
    const handled = [
      'checkout.session.completed',
      'customer.subscription.created',
      'customer.subscription.updated',
      'customer.subscription.deleted',
      'invoice.payment_failed',
      'invoice.paid',
    ];
    if (!handled.includes(type)) return this.acknowledge();
    if (type === 'checkout.session.completed' && object.mode !== 'subscription') return this.acknowledge();
    const found = await this.load();
    if (found === 'duplicate') return { received: true, duplicate: true, outcome: 'unchanged' };
    if (found === null) return this.acknowledge();
    this.target = found;
    switch (type) {
      case 'checkout.session.completed':
        return this.checkoutCompleted();
      case 'invoice.payment_failed':
        return this.paymentFailed();
      case 'invoice.paid':
        return this.invoicePaid();
      default: {
        const subscription = readSubscription(this.ctx.bindings, object);
        if (subscription === null) return this.recordOnly('ignored');
        return this.applySubscription(subscription, this.eventTime);
      }
    }
  }

  /** Acknowledged without a trace: an event type billing does not act on, or no organization of this platform. */
  private acknowledge(): BillingWebhookReceipt {
    return { received: true, duplicate: false, outcome: 'ignored' };
  }

  /** The organization the event is about, with its billing row; 'duplicate' when the event id was applied before. */
  private async load(): Promise<Target | 'duplicate' | null> {
    const { customer, organizationId } = references(this.event);
    if (customer === null && organizationId === null) {
      this.log.warn('billing event names no organization: ignored');
      return null;
    }
    const { db } = this;
    const match = or(
      customer === null ? sql`false` : eq(organizationBilling.stripeCustomerId, customer),
      organizationId === null ? sql`false` : eq(organizations.id, organizationId),
    );
    const [rows, known] = await scoped(db, { platform: true }, [
      db
        .select({
          organization: { id: organizations.id, slug: organizations.slug, plan: organizations.plan },
          billing: organizationBilling,
          byCustomer:
            customer === null
              ? sql<boolean>`false`
              : sql<boolean>`${organizationBilling.stripeCustomerId} = ${customer}`,
        })
        .from(organizations)
        .leftJoin(organizationBilling, eq(organizationBilling.organizationId, organizations.id))
        .where(match)
        .limit(2),
      db
        .select({ organizationId: billingEvents.organizationId })
        .from(billingEvents)
        .where(eq(billingEvents.eventId, this.event.id))
        .limit(1),
    ]);
    if (known.length > 0) return 'duplicate';
    // The stored customer wins over metadata: it is what this platform linked the organization to.
    const row = rows.find((candidate) => candidate.byCustomer) ?? rows[0];
    if (!row) {
      this.log.warn('billing event for an unknown organization ignored', { customer, organizationId });
      return null;
    }
    const storedCustomer = row.billing?.stripeCustomerId ?? null;
    if (customer !== null && storedCustomer !== null && storedCustomer !== customer) {
      this.log.warn('billing event for another customer of the organization ignored', {
        organizationId: row.organization.id,
      });
      return null;
    }
    return { organization: row.organization, billing: row.billing };
  }

  private get organizationId(): string {
    return this.target?.organization.id ?? '';
  }

  private record() {
    return mustChange(
      this.db,
      this.db
        .insert(billingEvents)
        .values({ organizationId: this.organizationId, eventId: this.event.id, type: this.event.type })
        .onConflictDoNothing()
        .returning({ eventId: billingEvents.eventId }),
      'duplicate',
    );
  }

  private audit(action: string, metadata: Record<string, unknown>) {
    return auditInsert(this.db, this.ctx.client, {
      organizationId: this.organizationId,
      actor: { type: 'system' },
      action,
      target: { type: 'organization', id: this.organizationId },
      metadata: { provider: 'stripe', stripeEventId: this.event.id, stripeEventType: this.event.type, ...metadata },
    });
  }

  /**
   * Runs `[record, ...effects, ...plan change]` as one batch in the organization's scope. A known event id answers
   * `duplicate`; a plan or subscription state changed by a concurrent event answers 409, which Stripe retries.
   */
  private async write(
    effects: BatchItem<'pg'>[],
    outcome: BillingWebhookOutcome,
    plan: { to: PlanName; reason: PlanChangeReason } | null = null,
  ): Promise<BillingWebhookReceipt> {
    const target = this.target;
    if (target === null) return this.acknowledge();
    const from = target.organization.plan;
    const change =
      plan === null || plan.to === from
        ? null
        : planChangeStatements(this.db, this.ctx.client, {
            organizationId: target.organization.id,
            from,
            to: plan.to,
            reason: plan.reason,
            metadata: { provider: 'stripe', stripeEventId: this.event.id, stripeEventType: this.event.type },
          });
    try {
      const results = await scoped(this.db, { organizationId: target.organization.id }, [
        this.record(),
        ...effects,
        ...(change ?? []),
      ]);
      if (change !== null) {
        const domains = results[results.length - 1] as { hostname: string }[];
        await forgetPlanHosts(this.ctx.bindings.ROOT_DOMAIN, target.organization.slug, domains);
        this.log.info('plan changed by billing', { organizationId: target.organization.id, from, to: plan?.to });
      }
      return { received: true, duplicate: false, outcome: change === null ? outcome : 'plan_updated' };
    } catch (error) {
      const label = abortLabel(error);
      if (label === 'duplicate') return { received: true, duplicate: true, outcome: 'unchanged' };
      if (label === 'plan_changed' || label === 'stale') throw concurrentChange();
      throw error;
    }
  }

  private recordOnly(outcome: BillingWebhookOutcome): Promise<BillingWebhookReceipt> {
    return this.write([], outcome);
  }

  /** checkout.session.completed (subscription mode): links the customer and applies the subscription as it is now. */
  private async checkoutCompleted(): Promise<BillingWebhookReceipt> {
    const subscriptionId = stripeId(this.event.object.subscription);
    if (subscriptionId === null) return this.recordOnly('ignored');
    // Read from Stripe: the session does not carry the subscription's state, and the read is at least as new as
    // any subscription event sent before it.
    const readAt = new Date();
    const object = await retrieveSubscription(billingClient(this.ctx.bindings, this.log), subscriptionId);
    const subscription = readSubscription(this.ctx.bindings, object);
    if (subscription === null) return this.recordOnly('ignored');
    return this.applySubscription(
      { ...subscription, customer: subscription.customer ?? stripeId(this.event.object.customer) },
      readAt,
    );
  }

  /** customer.subscription.created / updated / deleted (and the state read after a checkout). */
  private applySubscription(subscription: SubscriptionSnapshot, stateAt: Date): Promise<BillingWebhookReceipt> {
    const billing = this.target?.billing ?? null;
    const stored = billing?.stripeSubscriptionId ?? null;
    const storedLive =
      stored !== null && billing?.subscriptionStatus != null && !TERMINAL.includes(billing.subscriptionStatus);
    if (stored !== null && stored !== subscription.id && storedLive && TERMINAL.includes(subscription.status)) {
      // An older subscription ending after a newer one started: it no longer decides the plan.
      return this.recordOnly('unchanged');
    }
    if (billing?.subscriptionStateAt && billing.subscriptionStateAt > stateAt) {
      this.log.info('out-of-order subscription event ignored', { subscriptionId: subscription.id });
      return this.recordOnly('unchanged');
    }
    if (subscription.plan === null && subscription.price !== null) {
      this.log.warn('subscription price is not a plan of STRIPE_BILLING_PRICES', { price: subscription.price });
    }
    // A payment after the last failure ends dunning (active or trialing again); ending the subscription does too.
    const lastFailure = billing?.lastPaymentFailedAt ?? null;
    const endsDunning =
      TERMINAL.includes(subscription.status) ||
      ((subscription.status === 'active' || subscription.status === 'trialing') &&
        (lastFailure === null || stateAt > lastFailure));
    const downgraded = !endsDunning && billing?.dunningDowngradedAt != null;
    const to = planOfSubscription(subscription, downgraded);
    const values = {
      stripeCustomerId: subscription.customer,
      stripeSubscriptionId: subscription.id,
      subscriptionStatus: subscription.status,
      subscriptionPlan: subscription.plan,
      currentPeriodEnd: subscription.currentPeriodEnd,
      cancelAtPeriodEnd: subscription.cancelAtPeriodEnd,
      subscriptionStateAt: stateAt,
      updatedAt: new Date(),
      ...(endsDunning
        ? { dunningStartedAt: null, dunningFailures: 0, lastPaymentFailedAt: null, dunningDowngradedAt: null }
        : {}),
    };
    const { db } = this;
    const upsert = mustChange(
      db,
      db
        .insert(organizationBilling)
        .values({ organizationId: this.organizationId, ...values })
        .onConflictDoUpdate({
          target: organizationBilling.organizationId,
          set: {
            ...values,
            stripeCustomerId: sql`coalesce(${organizationBilling.stripeCustomerId}, excluded.stripe_customer_id)`,
          },
          setWhere: sql`${organizationBilling.subscriptionStateAt} is null or ${organizationBilling.subscriptionStateAt} <= ${stateAt.toISOString()}`,
        })
        .returning({ organizationId: organizationBilling.organizationId }),
      'stale',
    );
    return this.write(
      [
        upsert,
        this.audit('billing.subscription_updated', {
          subscriptionId: subscription.id,
          status: subscription.status,
          plan: subscription.plan,
          cancelAtPeriodEnd: subscription.cancelAtPeriodEnd,
          currentPeriodEnd: subscription.currentPeriodEnd?.toISOString() ?? null,
        }),
      ],
      'subscription_updated',
      to === null
        ? null
        : { to, reason: endsDunning && billing?.dunningDowngradedAt ? 'payment_recovered' : 'subscription' },
    );
  }

  /** The subscription an invoice is for, when it is the organization's current one (or none is stored yet). */
  private invoiceOfCurrentSubscription(): boolean {
    const subscriptionId = stripeId(this.event.object.subscription);
    const stored = this.target?.billing?.stripeSubscriptionId ?? null;
    return subscriptionId !== null && (stored === null || stored === subscriptionId);
  }

  /** invoice.payment_failed: a failed payment of the subscription starts or continues dunning; owners are emailed. */
  private async paymentFailed(): Promise<BillingWebhookReceipt> {
    if (!this.invoiceOfCurrentSubscription() || this.target?.billing == null) return this.recordOnly('ignored');
    const failedAt = this.eventTime;
    const { db } = this;
    const invoice = this.event.object;
    const failures = this.target.billing.dunningFailures + 1;
    const receipt = await this.write(
      [
        db
          .update(organizationBilling)
          .set({
            dunningStartedAt: sql`coalesce(${organizationBilling.dunningStartedAt}, ${failedAt.toISOString()}::timestamptz)`,
            dunningFailures: sql`${organizationBilling.dunningFailures} + 1`,
            lastPaymentFailedAt: sql`greatest(${organizationBilling.lastPaymentFailedAt}, ${failedAt.toISOString()}::timestamptz)`,
            updatedAt: new Date(),
          })
          .where(eq(organizationBilling.organizationId, this.organizationId)),
        this.audit('billing.payment_failed', {
          invoiceId: text(invoice.id),
          attemptCount: Number.isSafeInteger(invoice.attempt_count) ? invoice.attempt_count : null,
          amountDue: Number.isSafeInteger(invoice.amount_due) ? invoice.amount_due : null,
          currency: text(invoice.currency),
        }),
      ],
      'dunning',
    );
    if (!receipt.duplicate) {
      const schedule = dunningSchedule(this.ctx.bindings);
      const startedAt = this.target.billing.dunningStartedAt ?? failedAt;
      this.ctx.waitUntil(
        billingNotice(this.ctx.bindings, this.organizationId, `payment-failed:${this.event.id}`, {
          kind: 'payment_failed',
          plan: this.target.organization.plan,
          failedPayments: failures,
          maxFailures: schedule.maxFailures,
          downgradeAt: new Date(startedAt.getTime() + schedule.graceDays * 86_400_000).toISOString(),
        }),
      );
    }
    return receipt;
  }

  /** invoice.paid: a paid invoice of the subscription ends dunning and restores a plan the schedule took away. */
  private invoicePaid(): Promise<BillingWebhookReceipt> {
    const billing = this.target?.billing ?? null;
    const paidAt = this.eventTime;
    const failedLater = billing?.lastPaymentFailedAt != null && billing.lastPaymentFailedAt > paidAt;
    if (!this.invoiceOfCurrentSubscription() || billing === null || billing.dunningStartedAt === null || failedLater) {
      return this.recordOnly('unchanged');
    }
    const { db } = this;
    const restore =
      billing.dunningDowngradedAt !== null && billing.subscriptionStatus !== null
        ? planOfSubscription(
            { status: 'active', plan: billing.subscriptionPlan === 'starter' ? null : billing.subscriptionPlan },
            false,
          )
        : null;
    return this.write(
      [
        db
          .update(organizationBilling)
          .set({
            dunningStartedAt: null,
            dunningFailures: 0,
            lastPaymentFailedAt: null,
            dunningDowngradedAt: null,
            updatedAt: new Date(),
          })
          .where(eq(organizationBilling.organizationId, this.organizationId)),
        this.audit('billing.payment_recovered', { invoiceId: text(this.event.object.id) }),
      ],
      'recovered',
      restore === null ? null : { to: restore, reason: 'payment_recovered' },
    );
  }
}
