import { env } from 'cloudflare:workers';
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, memberships, organizations, users } from '../../src/db/schema/index.ts';
import type { OrganizationResponse } from '../../src/routes/organizations/schema.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import { DELETION_GRACE_DAYS } from '../../src/services/organizations/deletion.ts';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { runCron, withCronLock } from '../support/cron.ts';
import {
  bearer,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import {
  createPlatformAdmin,
  mailbox,
  organizationRow,
  PLATFORM,
  platformToken,
  populateTenant,
  type TenantRows,
} from '../support/organizations.ts';

// Issue #16 part 1: a platform administrator schedules the deletion of an organization with a grace period, may
// cancel it during the grace, and the scheduled handler purges the organization once the grace has passed.

const files = () => (env as unknown as { FILES: R2Bucket }).FILES;
const redis = () => createRedis(readBindings(env as unknown as Record<string, unknown>));

function platformPost(path: string, token: string, body: unknown, requestId = newRequestId()): Promise<Response> {
  return request(`${PLATFORM}${path}`, {
    method: 'POST',
    headers: bearer(token, { 'x-request-id': requestId }),
    body: JSON.stringify(body),
  });
}

function schedule(id: string, token: string, body: unknown = { reason: 'Support #1: closing' }, requestId?: string) {
  return platformPost(`/api/v1/organizations/${id}/schedule-deletion`, token, body, requestId);
}

function cancel(id: string, token: string, body: unknown = { reason: 'Support #2: reopening' }, requestId?: string) {
  return platformPost(`/api/v1/organizations/${id}/cancel-deletion`, token, body, requestId);
}

/** The grace of a scheduled deletion has passed: the stored dates are moved back (no sleeping). */
async function makeDue(organizationId: string): Promise<void> {
  await database()
    .update(organizations)
    .set({
      deletionScheduledAt: sql`now() - interval '31 days'`,
      deleteAfter: sql`now() - interval '1 minute'`,
    })
    .where(eq(organizations.id, organizationId));
}

/** Every table of the schema with an `organization_id` column (what "every tenant table" means, read from the database). */
async function tenantTables(): Promise<string[]> {
  const result = await database().execute<{ table_name: string }>(
    sql`select table_name from information_schema.columns where table_schema = 'public'
      and column_name = 'organization_id' order by table_name`,
  );
  return result.rows.map((row) => row.table_name);
}

/** How many rows of the organization each tenant table holds (owner connection: nothing is hidden). */
async function rowsOf(organizationId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await tenantTables()) {
    const result = await database().execute<{ n: number }>(
      sql`select count(*)::int as n from ${sql.identifier(table)} where organization_id = ${organizationId}`,
    );
    counts[table] = result.rows[0]?.n ?? -1;
  }
  return counts;
}

async function objectKeys(prefix: string): Promise<string[]> {
  return (await files().list({ prefix })).objects.map((object) => object.key);
}

/** An organization with rows in most tenant tables: members, sessions, a domain, an event, a booking, files, Redis keys. */
async function populated(): Promise<TenantRows & { eventSlug: string }> {
  const tenant = await createTenant();
  const rows = await populateTenant(tenant);
  const event = await createEvent(tenant);
  const seats = await createTicketType(event, { price: 0, quantity: 10 });
  await book(tenant, event.slug, {
    buyer: { name: 'Bea Buyer', email: `buyer-${crypto.randomUUID().slice(0, 8)}@example.com` },
    items: [{ ticketTypeId: seats.id, quantity: 2 }],
  });
  const id = tenant.organization.id;
  await files().put(`images/${id}/logo/${crypto.randomUUID()}.png`, new Uint8Array([1, 2, 3]));
  await files().put(`invoices/${id}/${crypto.randomUUID()}/x.pdf`, new Uint8Array([4, 5, 6]));
  await redis().set(`catalogue:version:${id}`, 'v1.test');
  return { ...rows, eventSlug: event.slug };
}

async function platformAudits(organizationId: string, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(
      and(
        sql`${auditLogs.organizationId} is null`,
        eq(auditLogs.action, action),
        eq(auditLogs.targetId, organizationId),
      ),
    );
}

function publicEvents(tenant: TestTenant): Promise<Response> {
  return request(tenant.url('/api/v1/public/events'));
}

describe('POST /api/v1/organizations/{id}/schedule-deletion', () => {
  it('takes the organization offline with a clear problem, tells its owners, and records it in both audit logs', async () => {
    const { tenant, owner } = await populateTenant(await createTenant());
    const admin = await createPlatformAdmin();
    const ownerToken = await tokenFor(tenant, owner);
    expect((await publicEvents(tenant)).status).toBe(200);

    const requestId = newRequestId();
    const response = await schedule(tenant.organization.id, admin.token, { reason: 'Support #7: closing' }, requestId);
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const body = await response.json<{ organizationId: string; scheduledAt: string; deleteAfter: string }>();
    expect(body.organizationId).toBe(tenant.organization.id);
    const grace = Date.parse(body.deleteAfter) - Date.parse(body.scheduledAt);
    expect(grace).toBe(DELETION_GRACE_DAYS.default * 24 * 60 * 60 * 1000);
    expect(Math.abs(Date.parse(body.scheduledAt) - Date.now())).toBeLessThan(60_000);

    // Public pages, the API with a valid token and sign-in all answer the same problem; the status is untouched.
    for (const answer of [
      await publicEvents(tenant),
      await request(tenant.url('/api/v1/organization'), { headers: bearer(ownerToken) }),
      await request(tenant.url('/api/v1/auth/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: owner.email, password: owner.password }),
      }),
    ]) {
      expect(answer.status).toBe(404);
      expect(await problem(answer)).toMatchObject({
        code: 'organization_deletion_scheduled',
        title: 'Organization scheduled for deletion',
      });
    }
    const row = await organizationRow(tenant.organization.id);
    expect(row.status).toBe('active');
    expect(row.deleteAfter?.toISOString()).toBe(body.deleteAfter);

    const [notice] = await mailbox(owner.email);
    expect(notice?.subject).toBe(`${tenant.organization.name} is scheduled for deletion`);
    expect(notice?.text).toContain(tenant.organization.slug);

    const [platformRow] = await platformAudits(tenant.organization.id, 'platform.organization_deletion_scheduled');
    expect(platformRow).toMatchObject({
      actorType: 'platform_admin',
      actorUserId: admin.userId,
      targetType: 'organization',
      metadata: { reason: 'Support #7: closing', graceDays: DELETION_GRACE_DAYS.default },
    });
    const own = await database()
      .select()
      .from(auditLogs)
      .where(
        and(
          eq(auditLogs.organizationId, tenant.organization.id),
          eq(auditLogs.action, 'organization.deletion_scheduled'),
        ),
      );
    expect(own).toHaveLength(1);

    const detail = await request(`${PLATFORM}/api/v1/organizations/${tenant.organization.id}`, {
      headers: bearer(admin.token),
    });
    expect((await detail.json<{ deletion: unknown }>()).deletion).toEqual({
      scheduledAt: body.scheduledAt,
      deleteAfter: body.deleteAfter,
    });
  });

  it('takes a chosen grace within bounds, and refuses a second schedule, bad input and other callers', async () => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    const id = tenant.organization.id;
    for (const graceDays of [0, DELETION_GRACE_DAYS.max + 1, 1.5, '7']) {
      const refused = await schedule(id, admin.token, { reason: 'Support #3', graceDays });
      expect(refused.status).toBe(400);
    }
    expect((await schedule(id, admin.token, { graceDays: 7 })).status).toBe(400);
    expect((await schedule(id, admin.token, { reason: 'x' })).status).toBe(400);
    expect((await schedule(id, admin.token, { reason: 'Support #3', extra: true })).status).toBe(400);
    expect((await schedule(crypto.randomUUID(), admin.token)).status).toBe(404);
    const member = await platformToken(admin.userId, 'member');
    expect((await schedule(id, member)).status).toBe(403);
    expect((await organizationRow(id)).deleteAfter).toBeNull();

    const ok = await schedule(id, admin.token, { reason: 'Support #3', graceDays: 7 });
    expect(ok.status).toBe(200);
    const { scheduledAt, deleteAfter } = await ok.json<{ scheduledAt: string; deleteAfter: string }>();
    expect(Date.parse(deleteAfter) - Date.parse(scheduledAt)).toBe(7 * 24 * 60 * 60 * 1000);
    const again = await schedule(id, admin.token);
    expect(again.status).toBe(409);
    expect((await problem(again)).code).toBe('conflict');
    expect((await organizationRow(id)).deleteAfter?.toISOString()).toBe(deleteAfter);

    // Not a route of organization hosts: 404 there, like any unknown path.
    const other = await createTenant();
    const { owner } = await populateTenant(other);
    const onTenant = await request(other.url(`/api/v1/organizations/${other.organization.id}/schedule-deletion`), {
      method: 'POST',
      headers: bearer(await tokenFor(other, owner)),
      body: JSON.stringify({ reason: 'Support #3' }),
    });
    expect(onTenant.status).toBe(404);
    expect((await organizationRow(other.organization.id)).deleteAfter).toBeNull();
  });
});

describe('POST /api/v1/organizations/{id}/cancel-deletion', () => {
  it('serves the organization again with the status it had, and tells its owners', async () => {
    const tenant = await createTenant({ status: 'suspended' });
    const { owner } = await populateTenant(tenant);
    const active = await createTenant();
    const admin = await createPlatformAdmin();
    for (const organization of [tenant, active]) {
      expect((await schedule(organization.organization.id, admin.token)).status).toBe(200);
    }
    expect((await problem(await publicEvents(active))).code).toBe('organization_deletion_scheduled');

    const requestId = newRequestId();
    const cancelled = await cancel(tenant.organization.id, admin.token, undefined, requestId);
    expect(cancelled.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect((await cancelled.json<OrganizationResponse>()).status).toBe('suspended');
    const row = await organizationRow(tenant.organization.id);
    expect([row.status, row.deleteAfter, row.deletionScheduledAt]).toEqual(['suspended', null, null]);
    // Suspended as before: the plain 404 of a host that is not served.
    expect((await problem(await publicEvents(tenant))).code).toBe('not_found');

    expect((await cancel(active.organization.id, admin.token)).status).toBe(200);
    expect((await publicEvents(active)).status).toBe(200);

    const messages = await mailbox(owner.email, 2);
    expect(messages.map((message) => message.subject)).toEqual([
      `${tenant.organization.name} is scheduled for deletion`,
      `The deletion of ${tenant.organization.name} was cancelled`,
    ]);
    expect(await platformAudits(tenant.organization.id, 'platform.organization_deletion_cancelled')).toHaveLength(1);
  });

  it('answers 409 when nothing is scheduled or the grace is over, 404 for an unknown id', async () => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    const id = tenant.organization.id;
    const nothing = await cancel(id, admin.token);
    expect(nothing.status).toBe(409);
    expect((await problem(nothing)).detail).toBe('No deletion of this organization is scheduled.');
    expect((await cancel(crypto.randomUUID(), admin.token)).status).toBe(404);

    // The grace has passed (the purge has not run yet): too late to cancel. Held under the cron lock so that no
    // other file's cron run purges the organization meanwhile.
    await withCronLock(async () => {
      expect((await schedule(id, admin.token)).status).toBe(200);
      await makeDue(id);
      const late = await cancel(id, admin.token);
      expect(late.status).toBe(409);
      expect((await problem(late)).detail).toMatch(/grace period is over/);
      expect((await organizationRow(id)).deleteAfter).not.toBeNull();
      // Put back in the future, so the purge leaves it.
      await database()
        .update(organizations)
        .set({ deleteAfter: sql`now() + interval '1 day'` })
        .where(eq(organizations.id, id));
    });
  });
});

describe('the purge of organizations whose grace has passed', () => {
  it('deletes everything the organization holds, leaves a tombstone, and touches no other organization', async () => {
    const [doomed, kept] = await Promise.all([populated(), populated()]);
    const admin = await createPlatformAdmin();
    const id = doomed.tenant.organization.id;
    const keptId = kept.tenant.organization.id;
    expect((await schedule(id, admin.token)).status).toBe(200);
    const before = await rowsOf(id);
    // The fixture reaches the tables that matter: members, sessions, bookings, tickets, audit log, outbox.
    for (const table of ['memberships', 'refresh_tokens', 'bookings', 'attendees', 'audit_logs', 'tenant_directory']) {
      expect(before[table], table).toBeGreaterThan(0);
    }

    // Not due yet: the cron leaves it.
    await runCron();
    expect((await organizationRow(id)).deleteAfter).not.toBeNull();
    // After that run's usage flush (the other organization's counters of the requests above land in usage_daily).
    const keptBefore = await rowsOf(keptId);

    await withCronLock(async () => {
      await makeDue(id);
      await runCron();
    });

    expect(await database().select().from(organizations).where(eq(organizations.id, id))).toEqual([]);
    const after = await rowsOf(id);
    expect(
      Object.values(after).every((count) => count === 0),
      JSON.stringify(after),
    ).toBe(true);
    expect(Object.keys(after).length).toBeGreaterThan(30);
    expect(await objectKeys(`images/${id}/`)).toEqual([]);
    expect(await objectKeys(`invoices/${id}/`)).toEqual([]);
    expect(await redis().get(`catalogue:version:${id}`)).toBeNull();
    // The accounts are global identities: they stay, without this membership.
    const [account] = await database().select().from(users).where(eq(users.id, doomed.owner.userId));
    expect(account?.email).toBe(doomed.owner.email);
    expect(await database().select().from(memberships).where(eq(memberships.userId, doomed.owner.userId))).toEqual([]);
    // The host is unknown now (no longer "scheduled for deletion").
    expect((await problem(await publicEvents(doomed.tenant))).code).toBe('not_found');

    const [tombstone, ...more] = await platformAudits(id, 'platform.organization_deleted');
    expect(more).toEqual([]);
    expect(tombstone).toMatchObject({
      actorType: 'system',
      actorUserId: null,
      targetType: 'organization',
      metadata: expect.objectContaining({
        slug: doomed.tenant.organization.slug,
        name: doomed.tenant.organization.name,
        members: before.memberships,
        bookings: before.bookings,
      }) as unknown,
    });
    // The platform's records of the schedule stay.
    expect(await platformAudits(id, 'platform.organization_deletion_scheduled')).toHaveLength(1);

    // The other organization is untouched, its files and keys too.
    expect(await rowsOf(keptId)).toEqual(keptBefore);
    expect(await objectKeys(`images/${keptId}/`)).toHaveLength(1);
    expect(await redis().get(`catalogue:version:${keptId}`)).toBe('v1.test');
    expect((await publicEvents(kept.tenant)).status).toBe(200);

    // Running again does nothing more: no second tombstone, no failure.
    await runCron();
    expect(await platformAudits(id, 'platform.organization_deleted')).toHaveLength(1);
  });

  it('finishes a purge that stopped half-way (files gone, rows still there)', async () => {
    const doomed = await populated();
    const admin = await createPlatformAdmin();
    const id = doomed.tenant.organization.id;
    expect((await schedule(id, admin.token)).status).toBe(200);
    await withCronLock(async () => {
      // As if a run had deleted the files and then died before the transaction.
      await files().delete(await objectKeys(`images/${id}/`));
      await makeDue(id);
      await runCron();
    });
    expect(Object.values(await rowsOf(id)).every((count) => count === 0)).toBe(true);
    expect(await objectKeys(`invoices/${id}/`)).toEqual([]);
    expect(await platformAudits(id, 'platform.organization_deleted')).toHaveLength(1);
  });
});
