import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { events, memberships, outbox, roles, webhookEndpoints } from '../../src/db/schema/index.ts';
import { scoped } from '../../src/db/tenant.ts';
import { isPlanLimit, planLimitError, quotaGuard } from '../../src/services/plans/quotas.ts';
import { appDatabase, createTenant, database, problem, type TestTenant } from '../support/harness.ts';
import { eventAudits, insertEvent, insertTicketType } from '../support/events.ts';
import { addMembers, auditRows, call, membershipOf, memberWithToken, randomEmail } from '../support/users.ts';

async function publishedCount(tenant: TestTenant): Promise<number> {
  const [row] = await database()
    .select({ count: sql<number>`count(*)::int` })
    .from(events)
    .where(and(eq(events.organizationId, tenant.organization.id), eq(events.status, 'published')));
  return row?.count ?? -1;
}

async function draftReadyToPublish(tenant: TestTenant) {
  const event = await insertEvent(tenant);
  await insertTicketType(tenant, event.id);
  return event;
}

/** Seats the members quota counts, straight from the database: active or invited members in a staff role. */
async function staffSeats(tenant: TestTenant): Promise<number | undefined> {
  const [seats] = await database()
    .select({ count: sql<number>`count(*)::int` })
    .from(memberships)
    .innerJoin(roles, eq(roles.id, memberships.roleId))
    .where(
      and(
        eq(memberships.organizationId, tenant.organization.id),
        sql`${memberships.status} in ('active', 'invited')`,
        sql`${roles.key} <> 'member'`,
      ),
    );
  return seats?.count;
}

describe('the publishedEvents quota', () => {
  it('refuses to publish beyond the plan with 403 plan_limit naming the plan; the event stays a draft', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    for (let index = 0; index < 5; index += 1) await insertEvent(tenant, { status: 'published' });
    // Cancelled and completed events and drafts take no place.
    await insertEvent(tenant, { status: 'cancelled' });
    await insertEvent(tenant, { status: 'completed' });
    const event = await draftReadyToPublish(tenant);

    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token });
    expect(response.status).toBe(403);
    const body = await problem(response);
    expect(body).toMatchObject({
      code: 'plan_limit',
      title: 'Plan limit reached',
      plan: 'starter',
      quota: 'publishedEvents',
      limit: 5,
    });
    expect(body.detail).toContain('starter');
    expect(await publishedCount(tenant)).toBe(5);
    expect(await eventAudits(tenant, 'event.published')).toEqual([]);

    // A place frees up when a published event is cancelled.
    await database()
      .update(events)
      .set({ status: 'cancelled' })
      .where(and(eq(events.organizationId, tenant.organization.id), eq(events.status, 'published')));
    const again = await call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token });
    expect(again.status).toBe(200);
    expect(await publishedCount(tenant)).toBe(1);
  });

  it('lets concurrent publishes of different events fill the quota exactly, never beyond', async () => {
    const tenant = await createTenant({ plan: 'pro', planOverrides: { quotas: { publishedEvents: 3 } } });
    const { token } = await memberWithToken(tenant, 'organizer');
    const drafts = await Promise.all(Array.from({ length: 7 }, () => draftReadyToPublish(tenant)));
    const responses = await Promise.all(
      drafts.map((draft) => call(tenant, 'POST', `/api/v1/events/${draft.id}/publish`, { token })),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 200, 200, 403, 403, 403, 403]);
    const refusals = await Promise.all(responses.filter((response) => response.status === 403).map(problem));
    expect(
      new Set(refusals.map((refusal) => `${refusal.code}:${String(refusal.limit)}:${String(refusal.plan)}`)),
    ).toEqual(new Set(['plan_limit:3:pro']));
    expect(await publishedCount(tenant)).toBe(3);
    expect(await eventAudits(tenant, 'event.published')).toHaveLength(3);
  });

  it('follows an override above the plan, and an unlimited plan (enterprise) has no quota', async () => {
    const raised = await createTenant({ planOverrides: { quotas: { publishedEvents: 6 } } });
    const { token } = await memberWithToken(raised, 'organizer');
    for (let index = 0; index < 5; index += 1) await insertEvent(raised, { status: 'published' });
    const sixth = await draftReadyToPublish(raised);
    expect((await call(raised, 'POST', `/api/v1/events/${sixth.id}/publish`, { token })).status).toBe(200);
    const seventh = await draftReadyToPublish(raised);
    const refused = await call(raised, 'POST', `/api/v1/events/${seventh.id}/publish`, { token });
    expect(refused.status).toBe(403);
    expect((await problem(refused)).limit).toBe(6);

    const enterprise = await createTenant({ plan: 'enterprise' });
    const { token: organizer } = await memberWithToken(enterprise, 'organizer');
    const startsAt = new Date(Date.now() + 30 * 86_400_000);
    await database()
      .insert(events)
      .values(
        Array.from({ length: 120 }, (_, index) => ({
          organizationId: enterprise.organization.id,
          slug: `bulk-${index}`,
          title: 'Bulk',
          timezone: 'UTC',
          status: 'published' as const,
          startsAt,
          endsAt: new Date(startsAt.getTime() + 3_600_000),
        })),
      );
    const more = await draftReadyToPublish(enterprise);
    expect((await call(enterprise, 'POST', `/api/v1/events/${more.id}/publish`, { token: organizer })).status).toBe(
      200,
    );
  });
});

describe('the members quota', () => {
  const invite = (tenant: TestTenant, token: string, role: string) =>
    call(tenant, 'POST', '/api/v1/users', {
      token,
      body: { email: randomEmail(tenant), name: 'Grace Hopper', role },
    });

  it('refuses a staff invitation beyond the seats with 403 plan_limit; customers and disabled members take none', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await addMembers(tenant, 3, { role: 'staff' });
    await addMembers(tenant, 4, { role: 'member' });
    await addMembers(tenant, 2, { role: 'organizer', status: 'disabled' });

    // Owner + 3 staff = 4 of 5 seats: one more staff member fits.
    expect((await invite(tenant, token, 'organizer')).status).toBe(201);
    const refused = await invite(tenant, token, 'staff');
    expect(refused.status).toBe(403);
    expect(await problem(refused)).toMatchObject({ code: 'plan_limit', plan: 'starter', quota: 'members', limit: 5 });
    expect(await auditRows(tenant, 'membership.invited')).toHaveLength(1);

    // A registered customer (the member role) takes no seat.
    expect((await invite(tenant, token, 'member')).status).toBe(201);
    expect(await staffSeats(tenant)).toBe(5);
  });

  it('lets concurrent invitations fill the seats exactly', async () => {
    const tenant = await createTenant({ plan: 'pro', planOverrides: { quotas: { members: 3 } } });
    const { token } = await memberWithToken(tenant, 'owner');
    const responses = await Promise.all(Array.from({ length: 5 }, () => invite(tenant, token, 'staff')));
    expect(responses.map((response) => response.status).sort()).toEqual([201, 201, 403, 403, 403]);
    expect(await auditRows(tenant, 'membership.invited')).toHaveLength(2);
  });
});

describe('the members quota on member changes', () => {
  const change = (tenant: TestTenant, token: string, id: string, body: Record<string, unknown>) =>
    call(tenant, 'PUT', `/api/v1/users/${id}`, { token, body });

  /** Starter (5 seats): owner + 4 staff take them all; plus a customer and a disabled organizer, who take none. */
  async function fullTenant() {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const staff = await addMembers(tenant, 4, { role: 'staff' });
    const [customer] = await addMembers(tenant, 1, { role: 'member' });
    const [disabled] = await addMembers(tenant, 1, { role: 'organizer', status: 'disabled' });
    if (!customer || !disabled) throw new Error('no members');
    return { tenant, token, staff, customer, disabled };
  }

  it('refuses to give a customer a staff role, or to enable a disabled member, beyond the seats; nothing changes', async () => {
    const { tenant, token, customer, disabled } = await fullTenant();

    const promoted = await change(tenant, token, customer, { role: 'staff', name: 'Promoted' });
    expect(promoted.status).toBe(403);
    const body = await problem(promoted);
    expect(body).toMatchObject({ code: 'plan_limit', plan: 'starter', quota: 'members', limit: 5 });
    expect(body.detail).toContain('starter');
    expect(await membershipOf(tenant, customer)).toMatchObject({ role: 'member', status: 'active', displayName: null });

    const enabled = await change(tenant, token, disabled, { status: 'active' });
    expect(enabled.status).toBe(403);
    expect(await problem(enabled)).toMatchObject({ code: 'plan_limit', plan: 'starter', quota: 'members', limit: 5 });
    expect(await membershipOf(tenant, disabled)).toMatchObject({ role: 'organizer', status: 'disabled' });

    expect(await auditRows(tenant, 'membership.updated')).toEqual([]);
    const events = await database()
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'membership.updated')));
    expect(events).toEqual([]);
  });

  it('lets changes that take no new seat through at the limit, and takes a seat freed by a disable', async () => {
    const { tenant, token, staff, customer, disabled } = await fullTenant();
    const [first, second] = staff;
    if (!first || !second) throw new Error('no staff');

    // Staff role to staff role, renames, and a disabled member's role change (still disabled): no new seat.
    expect((await change(tenant, token, first, { role: 'organizer', name: 'Renamed' })).status).toBe(200);
    expect((await change(tenant, token, customer, { name: 'Still a customer' })).status).toBe(200);
    expect((await change(tenant, token, disabled, { role: 'staff' })).status).toBe(200);
    expect(await membershipOf(tenant, disabled)).toMatchObject({ role: 'staff', status: 'disabled' });
    // A staff member becoming a customer frees a seat ...
    expect((await change(tenant, token, second, { role: 'member' })).status).toBe(200);
    // ... which the disabled member takes when enabled again; then the seats are full again.
    expect((await change(tenant, token, disabled, { status: 'active' })).status).toBe(200);
    expect(await membershipOf(tenant, disabled)).toMatchObject({ role: 'staff', status: 'active' });
    const refused = await change(tenant, token, customer, { role: 'staff' });
    expect(refused.status).toBe(403);
    expect(await problem(refused)).toMatchObject({ code: 'plan_limit', quota: 'members' });
    // Disabling someone frees a seat for the customer.
    expect((await change(tenant, token, first, { status: 'disabled' })).status).toBe(200);
    expect((await change(tenant, token, customer, { role: 'staff' })).status).toBe(200);
    expect(await membershipOf(tenant, customer)).toMatchObject({ role: 'staff', status: 'active' });
  });

  it('lets concurrent re-enables and promotions fill the seats exactly', async () => {
    const tenant = await createTenant({ plan: 'pro', planOverrides: { quotas: { members: 3 } } });
    const { token } = await memberWithToken(tenant, 'owner');
    const disabled = await addMembers(tenant, 3, { role: 'staff', status: 'disabled' });
    const customers = await addMembers(tenant, 3, { role: 'member' });
    const responses = await Promise.all([
      ...disabled.map((id) => change(tenant, token, id, { status: 'active' })),
      ...customers.map((id) => change(tenant, token, id, { role: 'organizer' })),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([200, 200, 403, 403, 403, 403]);
    expect(await staffSeats(tenant)).toBe(3);
  });
});

describe('features', () => {
  const roleBody = { key: 'box-office', name: 'Box office', permissions: ['events:read'] };

  it('refuses custom roles on starter with 403 feature_unavailable naming the plan, and creates nothing', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const response = await call(tenant, 'POST', '/api/v1/roles', { token, body: roleBody });
    expect(response.status).toBe(403);
    const body = await problem(response);
    expect(body).toMatchObject({
      code: 'feature_unavailable',
      title: 'Not in your plan',
      plan: 'starter',
      feature: 'custom_roles',
    });
    expect(body.detail).toContain('starter');
    const rows = await database()
      .select()
      .from(roles)
      .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.key, 'box-office')));
    expect(rows).toEqual([]);
    // Permissions come first: an anonymous caller still gets 401, a caller without roles:manage 403 forbidden.
    expect((await call(tenant, 'POST', '/api/v1/roles', { body: roleBody })).status).toBe(401);
    const { token: staff } = await memberWithToken(tenant, 'staff');
    expect((await problem(await call(tenant, 'POST', '/api/v1/roles', { token: staff, body: roleBody }))).code).toBe(
      'forbidden',
    );
  });

  it('allows custom roles on pro, on starter with the feature granted, and not on pro with it withheld', async () => {
    const pro = await createTenant({ plan: 'pro' });
    const granted = await createTenant({ planOverrides: { features: { custom_roles: true } } });
    const withheld = await createTenant({ plan: 'pro', planOverrides: { features: { custom_roles: false } } });
    for (const [tenant, status] of [
      [pro, 201],
      [granted, 201],
      [withheld, 403],
    ] as const) {
      const { token } = await memberWithToken(tenant, 'owner');
      expect((await call(tenant, 'POST', '/api/v1/roles', { token, body: roleBody })).status).toBe(status);
    }
  });
});

describe('webhooks (feature and webhookEndpoints quota)', () => {
  const create = (tenant: TestTenant, token: string) =>
    call(tenant, 'POST', '/api/v1/webhooks', { token, body: { url: 'https://hooks.example.com/eventra' } });

  it('refuses webhook endpoints on starter and counts them against the quota elsewhere', async () => {
    const starter = await createTenant();
    const { token } = await memberWithToken(starter, 'admin');
    const refused = await create(starter, token);
    expect(refused.status).toBe(403);
    expect(await problem(refused)).toMatchObject({ code: 'feature_unavailable', plan: 'starter', feature: 'webhooks' });

    const pro = await createTenant({ plan: 'pro', planOverrides: { quotas: { webhookEndpoints: 2 } } });
    const { token: admin } = await memberWithToken(pro, 'admin');
    const responses = await Promise.all([1, 2, 3, 4].map(() => create(pro, admin)));
    expect(responses.map((response) => response.status).sort()).toEqual([201, 201, 403, 403]);
    const [refusal] = await Promise.all(responses.filter((response) => response.status === 403).map(problem));
    expect(refusal).toMatchObject({ code: 'plan_limit', plan: 'pro', quota: 'webhookEndpoints', limit: 2 });
    expect(await auditRows(pro, 'webhook_endpoint.created')).toHaveLength(2);
  });
});

describe('quotaGuard (for other writers, e.g. webhook endpoints)', () => {
  it('aborts the whole batch with plan_limit when the quota is used up, and lets it through otherwise', async () => {
    const starter = await createTenant();
    const db = appDatabase();
    const tenantOf = (tenant: TestTenant) => ({ ...tenant.organization });
    const insert = (tenant: TestTenant) =>
      db.insert(webhookEndpoints).values({
        organizationId: tenant.organization.id,
        url: 'https://hooks.example.com/eventra',
        secret: 'encrypted',
      });
    let failure: unknown = null;
    try {
      await scoped(db, { organizationId: starter.organization.id }, [
        ...quotaGuard(db, tenantOf(starter), 'webhookEndpoints'),
        insert(starter),
      ]);
    } catch (error) {
      failure = error;
    }
    expect(isPlanLimit(failure)).toBe(true);
    expect(planLimitError(tenantOf(starter), 'webhookEndpoints')).toMatchObject({
      code: 'plan_limit',
      extensions: { plan: 'starter', quota: 'webhookEndpoints', limit: 0 },
    });
    const count = async (tenant: TestTenant) =>
      (
        await database()
          .select({ count: sql<number>`count(*)::int` })
          .from(webhookEndpoints)
          .where(eq(webhookEndpoints.organizationId, tenant.organization.id))
      )[0]?.count;
    expect(await count(starter)).toBe(0);

    const pro = await createTenant({ plan: 'pro', planOverrides: { quotas: { webhookEndpoints: 1 } } });
    await scoped(db, { organizationId: pro.organization.id }, [
      ...quotaGuard(db, tenantOf(pro), 'webhookEndpoints'),
      insert(pro),
    ]);
    expect(await count(pro)).toBe(1);
    await expect(
      scoped(db, { organizationId: pro.organization.id }, [
        ...quotaGuard(db, tenantOf(pro), 'webhookEndpoints'),
        insert(pro),
      ]),
    ).rejects.toSatisfy(isPlanLimit);
    // Not enforced: both statements do nothing.
    await scoped(db, { organizationId: pro.organization.id }, [
      ...quotaGuard(db, tenantOf(pro), 'webhookEndpoints', { enforce: false }),
      insert(pro),
    ]);
    expect(await count(pro)).toBe(2);
  });
});
