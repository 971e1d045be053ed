import { eq, sql } from 'drizzle-orm';
import { organizationBilling, organizations } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { actorOf } from '../events/shared.ts';
import { createCustomer, createPortalSession, createSubscriptionCheckout } from '../payments/stripe.ts';
import { billingClient, billingPrices, type PaidPlan } from './config.ts';
import { billingView, TERMINAL, type BillingView } from './state.ts';

/** The organization's plan with its billing row (one round trip). */
async function readBilling(ctx: ServiceContext) {
  const tenant = requireTenant(ctx);
  const { db } = ctx.services;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ name: organizations.name, plan: organizations.plan, billing: organizationBilling })
      .from(organizations)
      .leftJoin(organizationBilling, eq(organizationBilling.organizationId, organizations.id))
      .where(eq(organizations.id, tenant.id))
      .limit(1),
  ]);
  const row = rows[0];
  if (!row) throw new ApiError('not_found', { detail: 'No such organization.' });
  return { tenant, ...row };
}

/** GET /organization/billing: the plan, the subscription, a scheduled change and the dunning state. One round trip. */
export async function getBilling({ ctx }: { ctx: ServiceContext }): Promise<BillingView> {
  const { plan, billing } = await readBilling(ctx);
  return billingView(ctx.bindings, plan, billing);
}

/** The Stripe idempotency key part of a request: its Idempotency-Key (hashed, any length) or its request id. */
async function requestKey(ctx: ServiceContext, idempotencyKey: string | undefined): Promise<string> {
  if (idempotencyKey === undefined) return `request:${ctx.client.requestId}`;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(idempotencyKey));
  return `key:${[...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

export interface PlanCheckout {
  checkoutUrl: string;
  sessionId: string;
  expiresAt: string;
}

/**
 * POST /organization/billing/checkout: a Stripe Checkout Session (subscription mode) for a paid plan on the
 * platform's Stripe account. The organization's Stripe customer is created on the first checkout (idempotency key
 * per organization) and reused after. An organization with a live subscription changes its plan in the billing
 * portal instead (409). The plan changes when Stripe reports the subscription to the billing webhook, not here.
 * Round trips: one read, one write (the customer id and the audit row), two Stripe calls at most.
 */
export async function startPlanCheckout({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { plan: PaidPlan; successUrl?: string | undefined; cancelUrl?: string | undefined; idempotencyKey?: string };
}): Promise<PlanCheckout> {
  const client = billingClient(ctx.bindings, ctx.logger);
  const price = billingPrices(ctx.bindings)[input.plan];
  if (price === undefined) {
    throw new ApiError('unprocessable', {
      detail: `The ${input.plan} plan is not sold through self-service here; contact the platform.`,
      extensions: { plan: input.plan },
    });
  }
  const { tenant, name, plan, billing } = await readBilling(ctx);
  const status = billing?.subscriptionStatus ?? null;
  if (billing?.stripeSubscriptionId && status !== null && !TERMINAL.includes(status)) {
    throw new ApiError('conflict', {
      detail:
        'The organization already has a subscription: change or cancel its plan in the billing portal ' +
        '(POST /api/v1/organization/billing/portal).',
    });
  }
  if (plan === input.plan) {
    throw new ApiError('conflict', { detail: `The organization is already on the ${plan} plan.` });
  }
  const customer =
    billing?.stripeCustomerId ??
    (await createCustomer(client, {
      organizationId: tenant.id,
      name,
      email: null,
      idempotencyKey: `billing-customer:${tenant.id}`,
    }));
  const origin = ctx.origin ?? `https://${tenant.slug}.${ctx.bindings.ROOT_DOMAIN}`;
  const session = await createSubscriptionCheckout(client, {
    organizationId: tenant.id,
    customer,
    price,
    plan: input.plan,
    successUrl: input.successUrl ?? `${origin}/settings/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
    cancelUrl: input.cancelUrl ?? `${origin}/settings/billing?checkout=cancelled`,
    idempotencyKey: `billing-checkout:${tenant.id}:${input.plan}:${await requestKey(ctx, input.idempotencyKey)}`,
  });
  const { db } = ctx.services;
  await scoped(db, { organizationId: tenant.id }, [
    db
      .insert(organizationBilling)
      .values({ organizationId: tenant.id, stripeCustomerId: customer })
      .onConflictDoUpdate({
        target: organizationBilling.organizationId,
        set: { stripeCustomerId: sql`coalesce(${organizationBilling.stripeCustomerId}, excluded.stripe_customer_id)` },
      }),
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: actorOf(ctx),
      action: 'billing.checkout_started',
      target: { type: 'organization', id: tenant.id },
      metadata: { plan: input.plan, from: plan, checkoutSessionId: session.id },
    }),
  ]);
  return {
    checkoutUrl: session.url,
    sessionId: session.id,
    expiresAt: new Date(session.expiresAt * 1000).toISOString(),
  };
}

/**
 * POST /organization/billing/portal: a Stripe billing portal session for the organization's customer, where owners
 * change or cancel the plan, replace the payment method and pay open invoices. 409 before the first checkout (no
 * customer yet). Round trips: one read, one write (the audit row), one Stripe call.
 */
export async function openBillingPortal({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { returnUrl?: string | undefined };
}): Promise<{ portalUrl: string }> {
  const client = billingClient(ctx.bindings, ctx.logger);
  const { tenant, billing } = await readBilling(ctx);
  const customer = billing?.stripeCustomerId ?? null;
  if (customer === null) {
    throw new ApiError('conflict', {
      detail: 'The organization has no billing account yet: start with POST /api/v1/organization/billing/checkout.',
    });
  }
  const origin = ctx.origin ?? `https://${tenant.slug}.${ctx.bindings.ROOT_DOMAIN}`;
  const session = await createPortalSession(client, {
    customer,
    returnUrl: input.returnUrl ?? `${origin}/settings/billing`,
    idempotencyKey: `billing-portal:${tenant.id}:${ctx.client.requestId}`,
  });
  const { db } = ctx.services;
  await scoped(db, { organizationId: tenant.id }, [
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: actorOf(ctx),
      action: 'billing.portal_opened',
      target: { type: 'organization', id: tenant.id },
      metadata: { portalSessionId: session.id },
    }),
  ]);
  return { portalUrl: session.url };
}
