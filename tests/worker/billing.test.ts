import { env } from 'cloudflare:workers';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { events, organizationBilling, organizations } from '../../src/db/schema/index.ts';
import { STEP_UP_MAX_AGE_SECONDS } from '../../src/middleware/auth.ts';
import type { BillingView } from '../../src/services/billing/state.ts';
import { auditRows, randomIp, waitForMail } from '../support/auth.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { runCron } from '../support/cron.ts';
import {
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { signStripe, stripeRequests } from '../support/stripe.ts';

const vars = env as unknown as { STRIPE_API_BASE: string; STRIPE_BILLING_WEBHOOK_SECRET: string };
const PRO_PRICE = 'price_proMonthly';

function randomId(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

async function owner(tenant: TestTenant) {
  const member = await createMember(tenant, 'owner');
  return { member, token: await tokenFor(tenant, member) };
}

function call(tenant: TestTenant, method: string, path: string, token: string, body?: unknown, headers = {}) {
  return request(tenant.url(path), {
    method,
    headers: bearer(token, headers),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function billing(tenant: TestTenant, token: string): Promise<BillingView> {
  const response = await call(tenant, 'GET', '/api/v1/organization/billing', token);
  expect(response.status).toBe(200);
  return response.json();
}

/** A signed billing event POSTed on the platform host. */
async function sendEvent(
  type: string,
  object: Record<string, unknown>,
  options: { id?: string; created?: number; secret?: string } = {},
) {
  const payload = JSON.stringify({
    id: options.id ?? randomId('evt_'),
    object: 'event',
    api_version: '2024-06-20',
    created: options.created ?? Math.floor(Date.now() / 1000),
    livemode: false,
    type,
    data: { object },
  });
  return request('http://localhost/api/v1/billing/webhooks', {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cf-connecting-ip': randomIp(),
      'stripe-signature': await signStripe(payload, options.secret ?? vars.STRIPE_BILLING_WEBHOOK_SECRET),
    },
    body: payload,
  });
}

function subscriptionObject(
  tenant: TestTenant,
  customer: string,
  overrides: Record<string, unknown> = {},
  price = PRO_PRICE,
): Record<string, unknown> {
  return {
    id: randomId('sub_'),
    object: 'subscription',
    customer,
    status: 'active',
    cancel_at_period_end: false,
    current_period_end: Math.floor(Date.now() / 1000) + 30 * 86_400,
    items: { object: 'list', data: [{ id: randomId('si_'), price: { id: price, object: 'price' }, quantity: 1 }] },
    metadata: { organization_id: tenant.organization.id, plan: 'pro' },
    ...overrides,
  };
}

async function orgPlan(tenant: TestTenant) {
  const [row] = await database()
    .select({ plan: organizations.plan })
    .from(organizations)
    .where(eq(organizations.id, tenant.organization.id));
  return row?.plan;
}

async function billingRow(tenant: TestTenant) {
  const [row] = await database()
    .select()
    .from(organizationBilling)
    .where(eq(organizationBilling.organizationId, tenant.organization.id));
  return row;
}

/** Checkout as the owner, then Stripe completing it: the subscription is put in the fake, the session event sent. */
async function subscribe(tenant: TestTenant, token: string) {
  const response = await call(tenant, 'POST', '/api/v1/organization/billing/checkout', token, { plan: 'pro' });
  expect(response.status).toBe(200);
  const row = await billingRow(tenant);
  const customer = row?.stripeCustomerId ?? '';
  expect(customer).toMatch(/^cus_/);
  const subscription = subscriptionObject(tenant, customer);
  await fetch(`${vars.STRIPE_API_BASE}/__subscriptions/${String(subscription.id)}`, {
    method: 'PUT',
    body: JSON.stringify(subscription),
  });
  const completed = await sendEvent('checkout.session.completed', {
    id: randomId('cs_test_'),
    object: 'checkout.session',
    mode: 'subscription',
    status: 'complete',
    payment_status: 'paid',
    customer,
    subscription: subscription.id,
    client_reference_id: tenant.organization.id,
    metadata: { organization_id: tenant.organization.id, plan: 'pro' },
  });
  expect(completed.status).toBe(200);
  expect(await completed.json()).toEqual({ received: true, duplicate: false, outcome: 'plan_updated' });
  return { customer, subscription };
}

describe('POST /api/v1/organization/billing/checkout', () => {
  it("creates a subscription Checkout Session for the plan's price on a customer made once", async () => {
    const tenant = await createTenant();
    const { token } = await owner(tenant);
    const response = await call(tenant, 'POST', '/api/v1/organization/billing/checkout', token, { plan: 'pro' });
    expect(response.status).toBe(200);
    const body: { checkoutUrl: string; sessionId: string } = await response.json();
    expect(body.checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.com\//);

    const customers = (await stripeRequests('/v1/customers')).filter(
      (entry) => entry.form['metadata[organization_id]'] === tenant.organization.id,
    );
    expect(customers).toHaveLength(1);
    expect(customers[0]?.idempotencyKey).toBe(`billing-customer:${tenant.organization.id}`);
    expect(customers[0]?.headers.authorization).toBe('Bearer sk_test_platformBilling0000');
    const sessions = (await stripeRequests('/v1/checkout/sessions')).filter(
      (entry) => entry.form.client_reference_id === tenant.organization.id,
    );
    expect(sessions).toHaveLength(1);
    const session = sessions[0];
    expect(session?.status).toBe(200);
    expect(session?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(session?.headers['stripe-version']).toBe('2024-06-20');
    expect(session?.idempotencyKey).toMatch(new RegExp(`^billing-checkout:${tenant.organization.id}:pro:`));
    expect(session?.form).toMatchObject({
      mode: 'subscription',
      customer: customers[0]?.response.id,
      'line_items[0][price]': PRO_PRICE,
      'line_items[0][quantity]': '1',
      'metadata[organization_id]': tenant.organization.id,
      'metadata[plan]': 'pro',
      'subscription_data[metadata][organization_id]': tenant.organization.id,
    });
    expect((await billingRow(tenant))?.stripeCustomerId).toBe(customers[0]?.response.id);
    expect(await auditRows(tenant.organization.id, 'billing.checkout_started')).toHaveLength(1);

    // A second checkout reuses the customer.
    const again = await call(tenant, 'POST', '/api/v1/organization/billing/checkout', token, { plan: 'enterprise' });
    expect(again.status).toBe(200);
    const customersAfter = (await stripeRequests('/v1/customers')).filter(
      (entry) => entry.form['metadata[organization_id]'] === tenant.organization.id,
    );
    expect(customersAfter).toHaveLength(1);
  });

  it('needs billing:manage (admins and organizers are refused) and a recent sign-in for the checkout', async () => {
    const tenant = await createTenant();
    for (const role of ['admin', 'organizer']) {
      const token = await tokenFor(tenant, await createMember(tenant, role));
      for (const [method, path] of [
        ['GET', '/api/v1/organization/billing'],
        ['POST', '/api/v1/organization/billing/checkout'],
        ['POST', '/api/v1/organization/billing/portal'],
      ] as const) {
        const response = await call(tenant, method, path, token, method === 'POST' ? { plan: 'pro' } : undefined);
        expect(response.status, `${role} ${path}`).toBe(403);
      }
    }
    const { member } = await owner(tenant);
    const stale = await tokenFor(tenant, member, {
      authTime: Math.floor(Date.now() / 1000) - STEP_UP_MAX_AGE_SECONDS - 60,
    });
    const refused = await call(tenant, 'POST', '/api/v1/organization/billing/checkout', stale, { plan: 'pro' });
    expect(refused.status).toBe(401);
    expect((await problem(refused)).code).toBe('reauthentication_required');
    expect(await billingRow(tenant)).toBeUndefined();
    const anonymous = await request(tenant.url('/api/v1/organization/billing'));
    expect(anonymous.status).toBe(401);
  });

  it('refuses a plan that is not sold and a second subscription (409: use the portal)', async () => {
    const tenant = await createTenant();
    const { token } = await owner(tenant);
    const starter = await call(tenant, 'POST', '/api/v1/organization/billing/checkout', token, { plan: 'starter' });
    expect(starter.status).toBe(400);
    await subscribe(tenant, token);
    const second = await call(tenant, 'POST', '/api/v1/organization/billing/checkout', token, { plan: 'enterprise' });
    expect(second.status).toBe(409);
    const portal = await call(tenant, 'POST', '/api/v1/organization/billing/portal', token, {});
    expect(portal.status).toBe(200);
    const { portalUrl } = await portal.json<{ portalUrl: string }>();
    expect(portalUrl).toMatch(/^https:\/\/billing\.stripe\.com\//);
    const customer = (await billingRow(tenant))?.stripeCustomerId;
    const portalRequest = (await stripeRequests('/v1/billing_portal/sessions')).find(
      (entry) => entry.form.customer === customer,
    );
    expect(portalRequest?.form.return_url).toMatch(/\/settings\/billing$/);
  });

  it('answers 409 for the portal before the first checkout', async () => {
    const tenant = await createTenant();
    const { token } = await owner(tenant);
    const response = await call(tenant, 'POST', '/api/v1/organization/billing/portal', token, {});
    expect(response.status).toBe(409);
  });
});

describe('POST /api/v1/billing/webhooks', () => {
  it('upgrades the plan from the subscription and the new limits apply at once', async () => {
    const tenant = await createTenant();
    const { token } = await owner(tenant);
    // Warms this isolate's tenant cache with the starter plan: custom roles are not in it.
    const before = await call(tenant, 'POST', '/api/v1/roles', token, {
      key: 'door',
      name: 'Door',
      permissions: ['events:read'],
    });
    expect(before.status).toBe(403);
    expect((await problem(before)).code).toBe('feature_unavailable');

    const { subscription } = await subscribe(tenant, token);
    expect(await orgPlan(tenant)).toBe('pro');
    const view = await billing(tenant, token);
    expect(view).toMatchObject({
      plan: 'pro',
      subscription: { status: 'active', plan: 'pro', cancelAtPeriodEnd: false },
      nextPlan: null,
      dunning: { status: 'none', failedPayments: 0 },
    });
    expect((await stripeRequests(`/v1/subscriptions/${String(subscription.id)}`)).length).toBeGreaterThan(0);
    const [changed] = await auditRows(tenant.organization.id, 'organization.plan_changed');
    expect(changed?.metadata).toMatchObject({ from: 'starter', to: 'pro', reason: 'subscription' });

    const after = await call(tenant, 'POST', '/api/v1/roles', token, {
      key: 'door',
      name: 'Door',
      permissions: ['events:read'],
    });
    expect(after.status).toBe(201);
  });

  it('downgrades at the end of the period: a cancellation keeps the plan until Stripe ends the subscription', async () => {
    const tenant = await createTenant();
    const { token } = await owner(tenant);
    const { customer, subscription } = await subscribe(tenant, token);
    const periodEnd = subscription.current_period_end as number;
    const cancelled = await sendEvent(
      'customer.subscription.updated',
      { ...subscription, cancel_at_period_end: true },
      { created: Math.floor(Date.now() / 1000) + 1 },
    );
    expect(await cancelled.json()).toMatchObject({ outcome: 'subscription_updated' });
    expect(await orgPlan(tenant)).toBe('pro');
    expect((await billing(tenant, token)).nextPlan).toEqual({
      plan: 'starter',
      effectiveAt: new Date(periodEnd * 1000).toISOString(),
    });

    // An older event arriving late (out of order) changes nothing.
    const late = await sendEvent(
      'customer.subscription.updated',
      { ...subscription, customer },
      { created: Math.floor(Date.now() / 1000) - 60 },
    );
    expect(await late.json()).toMatchObject({ outcome: 'unchanged' });
    expect((await billingRow(tenant))?.cancelAtPeriodEnd).toBe(true);

    const ended = await sendEvent(
      'customer.subscription.deleted',
      { ...subscription, status: 'canceled', cancel_at_period_end: true },
      { created: Math.floor(Date.now() / 1000) + 2 },
    );
    expect(await ended.json()).toMatchObject({ outcome: 'plan_updated' });
    expect(await orgPlan(tenant)).toBe('starter');
    expect(await billing(tenant, token)).toMatchObject({
      plan: 'starter',
      subscription: { status: 'canceled' },
      nextPlan: null,
    });
  });

  it('failed payments start dunning, the scheduled handler downgrades after the schedule, nothing is deleted', async () => {
    const tenant = await createTenant();
    const { member, token } = await owner(tenant);
    const { customer, subscription } = await subscribe(tenant, token);
    // More published events than starter allows (5), made while on pro.
    for (let index = 0; index < 6; index += 1) await createEvent(tenant, { status: 'published' });
    const draft = await createEvent(tenant, { status: 'draft' });
    await createTicketType(draft);

    const invoice = {
      id: randomId('in_'),
      object: 'invoice',
      customer,
      subscription: subscription.id,
      attempt_count: 1,
      amount_due: 4900,
      currency: 'eur',
    };
    const failedId = randomId('evt_');
    const failed = await sendEvent('invoice.payment_failed', invoice, { id: failedId });
    expect(await failed.json()).toEqual({ received: true, duplicate: false, outcome: 'dunning' });
    // A replay is a no-op: still one failure.
    const replay = await sendEvent('invoice.payment_failed', invoice, { id: failedId });
    expect(await replay.json()).toEqual({ received: true, duplicate: true, outcome: 'unchanged' });
    const view = await billing(tenant, token);
    expect(view.dunning).toMatchObject({ status: 'retrying', failedPayments: 1 });
    expect(view.plan).toBe('pro');
    const mail = await waitForMail(member.email);
    expect(mail.subject).toContain('failed');

    // The cron before the schedule ends leaves the plan alone.
    await runCron();
    expect(await orgPlan(tenant)).toBe('pro');
    // 15 days later (the stored dates moved back): the schedule is over.
    await database()
      .update(organizationBilling)
      .set({ dunningStartedAt: new Date(Date.now() - 15 * 86_400_000) })
      .where(eq(organizationBilling.organizationId, tenant.organization.id));
    await runCron();
    expect(await orgPlan(tenant)).toBe('starter');
    expect((await billing(tenant, token)).dunning.status).toBe('downgraded');
    expect(await auditRows(tenant.organization.id, 'billing.dunning_downgraded')).toHaveLength(1);
    const published = await database()
      .select({ id: events.id })
      .from(events)
      .where(and(eq(events.organizationId, tenant.organization.id), eq(events.status, 'published')));
    expect(published).toHaveLength(6);
    // Over the starter quota: nothing deleted, but no more can be published.
    const publish = await call(tenant, 'POST', `/api/v1/events/${draft.id}/publish`, token);
    expect(publish.status).toBe(403);
    expect((await problem(publish)).code).toBe('plan_limit');
    // A second cron run does nothing more.
    await runCron();
    expect(await auditRows(tenant.organization.id, 'billing.dunning_downgraded')).toHaveLength(1);

    // Paying the invoice restores the plan.
    const paid = await sendEvent('invoice.paid', { ...invoice, attempt_count: 2 });
    expect(await paid.json()).toMatchObject({ outcome: 'plan_updated' });
    expect(await orgPlan(tenant)).toBe('pro');
    expect((await billing(tenant, token)).dunning.status).toBe('none');
  });

  it('downgrades after the number of failed payments reaches the limit', async () => {
    const tenant = await createTenant();
    const { token } = await owner(tenant);
    const { customer, subscription } = await subscribe(tenant, token);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const response = await sendEvent('invoice.payment_failed', {
        id: randomId('in_'),
        object: 'invoice',
        customer,
        subscription: subscription.id,
        attempt_count: attempt,
      });
      expect(response.status).toBe(200);
    }
    await runCron();
    expect(await orgPlan(tenant)).toBe('starter');
  });

  it('answers 400 to a bad signature and changes nothing', async () => {
    const tenant = await createTenant();
    const response = await sendEvent('customer.subscription.updated', subscriptionObject(tenant, 'cus_unknown'), {
      secret: 'whsec_someoneElse',
    });
    expect(response.status).toBe(400);
    expect(await orgPlan(tenant)).toBe('starter');
    const unsigned = await request('http://localhost/api/v1/billing/webhooks', { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(400);
  });

  it('acknowledges and ignores events for unknown organizations, and is not served on tenant hosts', async () => {
    const response = await sendEvent('customer.subscription.updated', {
      ...subscriptionObject(await createTenant(), 'cus_nobody'),
      metadata: { organization_id: crypto.randomUUID() },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true, duplicate: false, outcome: 'ignored' });
    const tenant = await createTenant();
    const onTenant = await request(tenant.url('/api/v1/billing/webhooks'), { method: 'POST', body: '{}' });
    expect(onTenant.status).toBe(404);
  });
});

describe('GET /api/v1/organization/billing', () => {
  it('answers the starter plan without a subscription, in one database round trip', async () => {
    const tenant = await createTenant();
    const { token } = await owner(tenant);
    await billing(tenant, token); // the tenant resolved once (cached), as on a warm isolate
    const id = newRequestId();
    const response = await call(tenant, 'GET', '/api/v1/organization/billing', token, undefined, {
      'x-request-id': id,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      plan: 'starter',
      subscription: null,
      nextPlan: null,
      dunning: { status: 'none', failedPayments: 0, startedAt: null, lastFailedAt: null, downgradeAt: null },
    });
    expect((await roundTrips(id)).database).toBe(1);
  });
});
