import { env } from 'cloudflare:workers';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { describe, expect, inject, it } from 'vitest';
import { cleanUpSource, moveOrganization, neonSql, type MoveSql, type MoveStep } from '../../dev/move-organization.ts';
import { createDatabase } from '../../src/db/client.ts';
import {
  auditLogs,
  events,
  featureFlags,
  memberships,
  organizations,
  outbox,
  platformDailyMetrics,
  tenantDirectory,
  users,
  webhookDeliveries,
  webhookEndpoints,
} from '../../src/db/schema/index.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import { rollupPlatformMetrics } from '../../src/services/platform/metrics.ts';
import { forgetHosts } from '../../src/services/tenants/resolve.ts';
import { linkToken, loginAs, mailbox, poll, post } from '../support/auth.ts';
import { runCron, withCronLock } from '../support/cron.ts';
import { eventBody } from '../support/events.ts';
import {
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  request,
  roundTrips,
  TEST_PASSWORD,
  type TestMember,
  type TestTenant,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM, platformCall } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';
import { consumeOne, queueWorld } from '../support/webhooks.ts';

const dedicated = inject('dedicatedDatabase');
const bindings = () => readBindings(env as unknown as Record<string, unknown>);

/** The dedicated database as the schema owner, through the same Neon gateway. */
function dedicatedDatabase() {
  if (!dedicated) throw new Error('no dedicated database in this run');
  return createDatabase({ ...bindings(), DATABASE_URL: dedicated.ownerUrl });
}

/** The database requests of one trace reached, by database name (the Neon gateway counts them per database). */
async function roundTripsByDatabase(requestId: string): Promise<{ shared: number; dedicated: number }> {
  const response = await fetch(`${inject('gatewayCounters').neon}/${encodeURIComponent(requestId)}`);
  const body: { databases?: Record<string, number> } = await response.json();
  return {
    shared: body.databases?.[dedicated?.mainName ?? ''] ?? 0,
    dedicated: body.databases?.[dedicated?.name ?? ''] ?? 0,
  };
}

function moveSql(): { control: MoveSql; database: (key: string) => MoveSql } {
  if (!dedicated) throw new Error('no dedicated database in this run');
  const control = neonSql(inject('ownerDatabaseUrl'));
  const target = neonSql(dedicated.ownerUrl);
  return {
    control,
    database: (key) => {
      if (key === 'shared') return control;
      if (key === 'dedicated-1') return target;
      throw new Error(`unknown database ${key}`);
    },
  };
}

/** Today's `events_published` row of the platform's daily metrics (control database). */
async function metricValue(day: string): Promise<number> {
  const [row] = await database()
    .select({ value: platformDailyMetrics.value })
    .from(platformDailyMetrics)
    .where(
      and(
        eq(platformDailyMetrics.day, day),
        eq(platformDailyMetrics.metric, 'events_published'),
        eq(platformDailyMetrics.dimension, ''),
      ),
    );
  return row?.value ?? -1;
}

/** The tenant caches forgotten here (this isolate and this location), instead of waiting out their 30 s. */
const forget = (tenant: TestTenant) => () => forgetHosts(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);

async function move(
  tenant: TestTenant,
  onStep?: (step: MoveStep) => Promise<void>,
  options: { keepSource?: boolean } = {},
) {
  return moveOrganization({
    ...moveSql(),
    ...options,
    organization: tenant.organization.slug,
    target: 'dedicated-1',
    settle: forget(tenant),
    onStep: async (step) => {
      await forget(tenant)();
      await onStep?.(step);
    },
  });
}

async function eventIdsIn(db: ReturnType<typeof database>, organizationId: string): Promise<string[]> {
  const rows = await db.select({ id: events.id }).from(events).where(eq(events.organizationId, organizationId));
  return rows.map((row) => row.id).sort();
}

async function createEvent(tenant: TestTenant, token: string, title: string): Promise<{ id: string }> {
  const response = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody({ title }) });
  expect(response.status).toBe(201);
  return response.json<{ id: string }>();
}

describe.skipIf(dedicated === null)('sharding: an organization on a dedicated database', () => {
  it('moves a populated organization, refusing its writes during the switch, and serves it from the new database', async () => {
    const origin = 'https://shop.example.com';
    const tenant = await createTenant({ settings: { allowedOrigins: [origin] } });
    const { token } = await memberWithToken(tenant, 'owner');
    const before = [await createEvent(tenant, token, 'Before one'), await createEvent(tenant, token, 'Before two')];
    const organizationId = tenant.organization.id;

    const refusals: {
      step: MoveStep;
      status: number;
      code: unknown;
      retryAfter: string | null;
      allowOrigin: string | null;
      exposed: boolean;
      read: number;
    }[] = [];
    const result = await move(tenant, async (step) => {
      if (step !== 'copied' && step !== 'switched') return;
      // From the organization's own web app: the refusal must carry its CORS headers, or the browser hides it.
      const write = await call(tenant, 'POST', '/api/v1/events', {
        token,
        body: eventBody({ title: 'During' }),
        headers: { origin },
      });
      const read = await call(tenant, 'GET', '/api/v1/events', { token });
      refusals.push({
        step,
        status: write.status,
        code: (await write.json<{ code: unknown }>()).code,
        retryAfter: write.headers.get('retry-after'),
        allowOrigin: write.headers.get('access-control-allow-origin'),
        exposed: (write.headers.get('access-control-expose-headers') ?? '').split(/,\s*/).includes('Retry-After'),
        read: read.status,
      });
    });

    // Read-only while copied and switched: writes refused with the documented problem (readable cross-origin by the
    // allowed origin, Retry-After included), reads served.
    const refused = {
      status: 503,
      code: 'organization_read_only',
      retryAfter: '60',
      allowOrigin: origin,
      exposed: true,
    };
    expect(refusals).toEqual([
      { step: 'copied', ...refused, read: 200 },
      { step: 'switched', ...refused, read: 200 },
    ]);
    expect(result).toMatchObject({ organizationId, source: 'shared', target: 'dedicated-1', moved: true });
    const checked = new Map(result.checks.map((check) => [check.table, check]));
    expect(checked.get('events')?.target.rows).toBe(2);
    expect(checked.get('memberships')?.target.rows).toBe(1);
    expect(checked.get('audit_logs')?.target.rows).toBeGreaterThanOrEqual(2);
    for (const check of result.checks) expect(check.target).toEqual(check.source);

    const [directory] = await database()
      .select()
      .from(tenantDirectory)
      .where(eq(tenantDirectory.organizationId, organizationId));
    expect(directory).toMatchObject({ database: 'dedicated-1', readOnlySince: null });
    expect(await eventIdsIn(dedicatedDatabase(), organizationId)).toEqual(before.map((event) => event.id).sort());

    // Writable again, on the dedicated database: the new event is there, and the shared one holds none of its events
    // (the source rows were deleted once no cache could name the shared database).
    const after = await createEvent(tenant, token, 'After');
    expect(await eventIdsIn(dedicatedDatabase(), organizationId)).toContain(after.id);
    expect(await eventIdsIn(database(), organizationId)).toEqual([]);
    const list = await call(tenant, 'GET', '/api/v1/events', { token });
    expect(list.status).toBe(200);
    const listed = (await list.json<{ data: { id: string }[] }>()).data.map((event) => event.id).sort();
    expect(listed).toEqual([...before.map((event) => event.id), after.id].sort());
  });

  it('signs in, dispatches its outbox and keeps the source rows with keepSource until the cleanup', async () => {
    const tenant = await createTenant();
    const { member, token } = await memberWithToken(tenant, 'owner');
    const before = await createEvent(tenant, token, 'Kept');
    const organizationId = tenant.organization.id;
    await move(tenant, undefined, { keepSource: true });
    expect(await eventIdsIn(database(), organizationId)).toEqual([before.id]);

    const after = await createEvent(tenant, token, 'After');
    // Its outbox row is dispatched after the response from the database that wrote it.
    await poll(async () => {
      const [row] = await dedicatedDatabase()
        .select({ id: outbox.id })
        .from(outbox)
        .where(
          and(
            eq(outbox.organizationId, organizationId),
            isNotNull(outbox.dispatchedAt),
            sql`${outbox.payload} -> 'data' ->> 'id' = ${after.id}`,
          ),
        );
      return row;
    }, 'the event.created outbox row dispatched on the dedicated database');

    // A sign-in reads the user (copied along) and the membership on the dedicated database.
    const session = await loginAs(tenant, member);
    expect(session.accessToken).toEqual(expect.any(String));

    // Cleanup: the shared database keeps the organization's row (control) but none of its tenant rows.
    const cleaned = await cleanUpSource({ ...moveSql(), organization: organizationId, sourceKey: 'shared' });
    expect(cleaned.deleted.get('events')).toBe(1);
    expect(await eventIdsIn(database(), organizationId)).toEqual([]);
    const sharedMembers = await database()
      .select({ userId: memberships.userId })
      .from(memberships)
      .where(eq(memberships.organizationId, organizationId));
    expect(sharedMembers).toEqual([]);
    const [control] = await database()
      .select({ id: organizations.id })
      .from(organizations)
      .where(eq(organizations.id, organizationId));
    expect(control?.id).toBe(organizationId);
    // The user is global: still on the shared database, copied to the dedicated one.
    for (const db of [database(), dedicatedDatabase()]) {
      const [user] = await db.select({ id: users.id }).from(users).where(eq(users.id, member.userId));
      expect(user?.id).toBe(member.userId);
    }

    expect(await eventIdsIn(dedicatedDatabase(), organizationId)).toEqual([before.id, after.id].sort());
  });

  it('keeps one database round trip for a request of a dedicated organization, on its own database', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await move(tenant);

    // Cold: the tenant lookup (control, joined with the directory), then the route on the dedicated database.
    await forget(tenant)();
    const cold = newRequestId();
    expect((await call(tenant, 'GET', '/api/v1/events', { token, headers: { 'x-request-id': cold } })).status).toBe(
      200,
    );
    expect(await roundTripsByDatabase(cold)).toEqual({ shared: 1, dedicated: 1 });

    // Warm: the cached tenant carries the database key; one round trip, to the dedicated database only.
    const warm = newRequestId();
    expect((await call(tenant, 'GET', '/api/v1/events', { token, headers: { 'x-request-id': warm } })).status).toBe(
      200,
    );
    expect(await roundTripsByDatabase(warm)).toEqual({ shared: 0, dedicated: 1 });
    // A write too goes to the dedicated database alone.
    const write = newRequestId();
    const created = await call(tenant, 'POST', '/api/v1/events', {
      token,
      body: eventBody({ title: 'Warm' }),
      headers: { 'x-request-id': write },
    });
    expect(created.status).toBe(201);
    expect((await roundTripsByDatabase(write)).shared).toBe(0);
  });

  it('refuses to switch when the copy does not verify, and completes when run again', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await createEvent(tenant, token, 'Counted');
    const organizationId = tenant.organization.id;

    await expect(
      move(tenant, async (step) => {
        // A row the copy did not make: the target has one event more than the source.
        if (step !== 'copied') return;
        await dedicatedDatabase()
          .insert(events)
          .values({
            organizationId,
            slug: 'stray',
            title: 'Stray',
            timezone: 'UTC',
            startsAt: new Date(Date.now() + 86_400_000),
            endsAt: new Date(Date.now() + 90_000_000),
          });
      }),
    ).rejects.toThrow(/verification failed.*events 1 -> 2 rows/);

    // Not switched, still read-only (writes refused, reads served from the shared database).
    expect(await eventIdsIn(database(), organizationId)).toHaveLength(1);
    const [directory] = await database()
      .select()
      .from(tenantDirectory)
      .where(eq(tenantDirectory.organizationId, organizationId));
    expect(directory?.database).toBe('shared');
    expect(directory?.readOnlySince).not.toBeNull();
    await forget(tenant)();
    const refused = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 'organization_read_only' });
    expect((await call(tenant, 'GET', '/api/v1/events', { token })).status).toBe(200);

    // Run again: the target's partial rows are replaced by a fresh copy, which verifies.
    const result = await move(tenant);
    expect(result.moved).toBe(true);
    expect(result.checks.find((check) => check.table === 'events')?.target.rows).toBe(1);
    expect((await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() })).status).toBe(201);
    // The source rows were deleted once the caches could no longer point there.
    expect(await eventIdsIn(database(), organizationId)).toEqual([]);
    // And once more: already there, nothing to do.
    expect((await move(tenant)).moved).toBe(false);
  });

  it("writes changes of the organization's own row to both copies", async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await move(tenant);
    const organizationId = tenant.organization.id;
    const copies = async () =>
      Promise.all(
        [database(), dedicatedDatabase()].map(async (db) => {
          const [row] = await db
            .select({ name: organizations.name, plan: organizations.plan })
            .from(organizations)
            .where(eq(organizations.id, organizationId));
          return row;
        }),
      );

    // Its administrators rename it on its host: the control row (tenant resolution, the platform) follows.
    const renamed = await call(tenant, 'PUT', `/api/v1/organizations/${organizationId}`, {
      token,
      body: { name: 'Renamed on its own database' },
    });
    expect(renamed.status).toBe(200);
    expect((await copies()).map((row) => row?.name)).toEqual([
      'Renamed on its own database',
      'Renamed on its own database',
    ]);

    // A platform administrator changes its plan: the dedicated copy (its host's plan reads) follows.
    const admin = await createPlatformAdmin();
    const planned = await request(`${PLATFORM}/api/v1/organizations/${organizationId}`, {
      method: 'PUT',
      headers: bearer(admin.token),
      body: JSON.stringify({ plan: 'pro' }),
    });
    expect(planned.status).toBe(200);
    expect((await copies()).map((row) => row?.plan)).toEqual(['pro', 'pro']);
  });

  it('answers 503 with Retry-After when the directory names a database the Worker does not know', async () => {
    const tenant = await createTenant();
    await database()
      .update(tenantDirectory)
      .set({ database: 'dedicated-9' })
      .where(eq(tenantDirectory.organizationId, tenant.organization.id));
    await forget(tenant)();
    const response = await request(tenant.url('/api/v1/public/events'));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('30');
    expect(await response.json()).toMatchObject({ code: 'service_unavailable' });
  });

  /** One person, member of an organization moved to the dedicated database and of one that stays on the shared one. */
  async function memberOfMovedAndShared(): Promise<{ moved: TestTenant; other: TestTenant; member: TestMember }> {
    const moved = await createTenant();
    const other = await createTenant();
    const { member } = await memberWithToken(moved, 'organizer');
    await createMember(other, 'organizer', { email: member.email });
    await move(moved);
    return { moved, other, member };
  }

  const me = (tenant: TestTenant, token: string) => call(tenant, 'GET', '/api/v1/auth/me', { token });
  const refresh = (tenant: TestTenant, refreshToken: string) =>
    post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken });
  const signIn = (tenant: TestTenant, email: string, password: string) =>
    post(tenant.url('/api/v1/auth/login'), { email, password });

  it("ends a member's sessions on a dedicated organization's host when the platform revokes them", async () => {
    const { moved, other, member } = await memberOfMovedAndShared();
    const onDedicated = await loginAs(moved, member);
    const onShared = await loginAs(other, member);
    expect((await me(moved, onDedicated.accessToken)).status).toBe(200);

    const admin = await createPlatformAdmin();
    // Support sees both memberships, each with its live session, wherever it is.
    const account = await platformCall(`/api/v1/platform/users/${member.userId}`, admin.token);
    expect(account.status).toBe(200);
    const listed = await account.json<{
      organizations: number;
      memberships: { organization: { id: string }; activeSessions: number }[];
    }>();
    expect(listed.organizations).toBe(2);
    expect(
      listed.memberships
        .map((m) => [m.organization.id, m.activeSessions])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    ).toEqual(
      [
        [moved.organization.id, 1],
        [other.organization.id, 1],
      ].sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
    const requestId = newRequestId();
    const revoked = await platformCall(`/api/v1/platform/users/${member.userId}/revoke-sessions`, admin.token, {
      method: 'POST',
      body: { reason: 'Support #5150: stolen phone' },
      headers: { 'x-request-id': requestId },
    });
    expect(revoked.status).toBe(200);
    // Both sessions, on both databases; both organizations' access tokens.
    expect(await revoked.json()).toEqual({ sessionsRevoked: 2, tenants: 2 });
    // The control database's statement, then the dedicated one's (one round trip per database the Worker knows).
    expect(await roundTripsByDatabase(requestId)).toEqual({ shared: 1, dedicated: 1 });
    expect((await roundTrips(requestId)).redis).toBe(2);

    // At once, on the dedicated organization's host too: the access token is refused, the refresh token is spent.
    expect((await me(moved, onDedicated.accessToken)).status).toBe(401);
    expect((await refresh(moved, onDedicated.refreshToken)).status).toBe(401);
    expect((await me(other, onShared.accessToken)).status).toBe(401);
    expect((await refresh(other, onShared.refreshToken)).status).toBe(401);
  });

  it(
    'gives a new password to every copy of the account and ends its sessions on every database',
    { timeout: 90_000 },
    async () => {
      const { moved, other, member } = await memberOfMovedAndShared();
      const onDedicated = await loginAs(moved, member);
      const onShared = await loginAs(other, member);

      // Changed on the shared organization's host: the dedicated copy follows, its sessions end.
      const newPassword = 'copper lantern harbor seventy';
      const changed = await call(other, 'POST', '/api/v1/auth/change-password', {
        token: onShared.accessToken,
        body: { currentPassword: TEST_PASSWORD, newPassword },
      });
      expect(changed.status).toBe(200);
      expect((await me(moved, onDedicated.accessToken)).status).toBe(401);
      expect((await refresh(moved, onDedicated.refreshToken)).status).toBe(401);
      expect((await signIn(moved, member.email, TEST_PASSWORD)).status).toBe(401);
      const again = await signIn(moved, member.email, newPassword);
      expect(again.status).toBe(200);
      const onDedicatedAgain = await again.json<{ accessToken: string; refreshToken: string }>();
      const copies = await Promise.all(
        [database(), dedicatedDatabase()].map(async (db) => {
          const [row] = await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, member.userId));
          return row?.hash;
        }),
      );
      expect(copies[0]).toEqual(expect.any(String));
      expect(copies[1]).toBe(copies[0]);

      // A profile change on the dedicated organization's host shows on the shared one.
      const renamed = await call(moved, 'PATCH', '/api/v1/auth/me', {
        token: onDedicatedAgain.accessToken,
        body: { name: 'Renamed There', timezone: 'Asia/Tokyo', preferences: { theme: 'dark' } },
      });
      expect(renamed.status).toBe(200);
      for (const db of [database(), dedicatedDatabase()]) {
        const [row] = await db
          .select({ name: users.name, timezone: users.timezone, preferences: users.preferences })
          .from(users)
          .where(eq(users.id, member.userId));
        expect(row).toMatchObject({ name: 'Renamed There', timezone: 'Asia/Tokyo', preferences: { theme: 'dark' } });
      }

      // Reset through a link on the dedicated organization's host: the shared copy follows, its sessions end.
      const onSharedAgain = await loginAs(other, { email: member.email, password: newPassword });
      const forgot = await post(moved.url('/api/v1/auth/forgot-password'), { email: member.email });
      expect(forgot.status).toBe(202);
      const resetMail = await poll(async () => {
        const messages = await mailbox(member.email);
        return messages.find((message) => message.links.some((url) => url.includes('token=')));
      }, 'the reset link');
      const link = linkToken(resetMail);
      const resetPassword = 'velvet comet orchard ninety';
      const reset = await post(moved.url('/api/v1/auth/reset-password'), { token: link, password: resetPassword });
      expect(reset.status).toBe(204);
      expect((await me(other, onSharedAgain.accessToken)).status).toBe(401);
      expect((await refresh(other, onSharedAgain.refreshToken)).status).toBe(401);
      expect((await me(moved, onDedicatedAgain.accessToken)).status).toBe(401);
      expect((await signIn(other, member.email, newPassword)).status).toBe(401);
      expect((await signIn(other, member.email, resetPassword)).status).toBe(200);
    },
  );

  it('purges a scheduled deletion on the dedicated database too, the directory entry last, and survives a re-run', async () => {
    const admin = await createPlatformAdmin();
    const purgeable = async () => {
      const tenant = await createTenant();
      const { token } = await memberWithToken(tenant, 'owner');
      await createEvent(tenant, token, 'Doomed');
      await move(tenant);
      const scheduled = await platformCall(
        `/api/v1/organizations/${tenant.organization.id}/schedule-deletion`,
        admin.token,
        { method: 'POST', body: { reason: 'Support #6: closing', graceDays: 1 } },
      );
      expect(scheduled.status).toBe(200);
      return tenant.organization.id;
    };
    const makeDue = (organizationId: string) =>
      database()
        .update(organizations)
        .set({ deletionScheduledAt: sql`now() - interval '2 days'`, deleteAfter: sql`now() - interval '1 minute'` })
        .where(eq(organizations.id, organizationId));
    const rowsOn = async (db: ReturnType<typeof database>, organizationId: string) => {
      const result = await db.execute<{ n: number }>(sql`select
          (select count(*) from organizations where id = ${organizationId})
        + (select count(*) from memberships where organization_id = ${organizationId})
        + (select count(*) from events where organization_id = ${organizationId})
        + (select count(*) from audit_logs where organization_id = ${organizationId})
        + (select count(*) from tenant_directory where organization_id = ${organizationId}) as n`);
      return Number(result.rows[0]?.n);
    };
    const tombstones = (organizationId: string) =>
      database()
        .select({ metadata: auditLogs.metadata })
        .from(auditLogs)
        .where(and(eq(auditLogs.targetId, organizationId), eq(auditLogs.action, 'platform.organization_deleted')));

    const whole = await purgeable();
    // As if a run had died after the dedicated database's transaction and before the control one's.
    const halfWay = await purgeable();
    await dedicatedDatabase().delete(organizations).where(eq(organizations.id, halfWay));
    expect(await rowsOn(dedicatedDatabase(), whole)).toBeGreaterThan(2);

    await withCronLock(async () => {
      await Promise.all([makeDue(whole), makeDue(halfWay)]);
      await runCron();
    });
    for (const organizationId of [whole, halfWay]) {
      expect(await rowsOn(dedicatedDatabase(), organizationId)).toBe(0);
      expect(await rowsOn(database(), organizationId)).toBe(0);
      expect(await tombstones(organizationId)).toHaveLength(1);
    }
    const [tombstone] = await tombstones(whole);
    expect(tombstone?.metadata).toMatchObject({ database: 'dedicated-1', members: 1, events: 1 });
  });

  it('exports and erases an account on every database: its membership and copy on the dedicated one too', async () => {
    const { moved, other, member } = await memberOfMovedAndShared();
    const onDedicated = await loginAs(moved, member);
    const admin = await createPlatformAdmin();
    const exported = await platformCall(`/api/v1/platform/users/${member.userId}/export`, admin.token);
    expect(exported.status).toBe(200);
    const document = await exported.json<{ organizations: { organization: { id: string } }[] }>();
    expect(document.organizations.map((entry) => entry.organization.id).sort()).toEqual(
      [moved.organization.id, other.organization.id].sort(),
    );

    const erased = await platformCall(`/api/v1/platform/users/${member.userId}/erase`, admin.token, {
      method: 'POST',
      body: { reason: 'DSR #99: erasure requested' },
    });
    expect(erased.status).toBe(200);
    expect(await erased.json()).toMatchObject({ organizations: 2, membershipsRemoved: 2 });
    expect((await me(moved, onDedicated.accessToken)).status).toBe(401);
    expect((await refresh(moved, onDedicated.refreshToken)).status).toBe(401);
    for (const db of [database(), dedicatedDatabase()]) {
      expect(await db.select({ id: users.id }).from(users).where(eq(users.id, member.userId))).toEqual([]);
      expect(await db.select().from(memberships).where(eq(memberships.userId, member.userId))).toEqual([]);
    }
    // Both organizations' logs say so, each on its own database.
    for (const [db, tenant] of [
      [dedicatedDatabase(), moved],
      [database(), other],
    ] as const) {
      const rows = await db
        .select({ id: auditLogs.id })
        .from(auditLogs)
        .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'account.data_erased')));
      expect(rows).toHaveLength(1);
    }
    expect((await signIn(moved, member.email, TEST_PASSWORD)).status).toBe(401);
  });

  it("evaluates a dedicated organization's flags from the control database's definitions", async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    await createEvent(tenant, token, 'Counted on its database');
    await move(tenant);
    const admin = await createPlatformAdmin();

    // The platform's detail counts what the dedicated database holds (the control one holds none of it any more).
    const detail = await platformCall(`/api/v1/organizations/${tenant.organization.id}`, admin.token);
    expect(detail.status).toBe(200);
    expect(await detail.json()).toMatchObject({ members: { total: 1, owners: 1 }, events: { total: 1 } });

    const key = `test_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
    const created = await platformCall('/api/v1/platform/feature-flags', admin.token, {
      method: 'POST',
      body: { key, description: 'Defined on the platform.', planValues: { pro: true } },
    });
    expect(created.status).toBe(201);
    // The definition is a control row only: the dedicated database has none.
    expect(await dedicatedDatabase().select().from(featureFlags).where(eq(featureFlags.key, key))).toEqual([]);
    const flagOf = async () => {
      const response = await call(tenant, 'GET', '/api/v1/organization/features', { token });
      expect(response.status).toBe(200);
      const body = await response.json<{ flags: { key: string; value: boolean; source: string }[] }>();
      return body.flags.find((flag) => flag.key === key);
    };
    expect(await flagOf()).toMatchObject({ value: true, source: 'plan' });
    // An override set on the platform host (the control row) applies on its host at once.
    const overridden = await platformCall(
      `/api/v1/organizations/${tenant.organization.id}/plan-overrides`,
      admin.token,
      {
        method: 'PUT',
        body: { features: { [key]: false } },
      },
    );
    expect(overridden.status).toBe(200);
    await forget(tenant)();
    expect(await flagOf()).toMatchObject({ value: false, source: 'override' });
    await platformCall(`/api/v1/platform/feature-flags/${key}`, admin.token, { method: 'DELETE' });
  });

  it("adds the tenant tables of the dedicated database to the platform's daily metrics", async () => {
    const tenant = await createTenant();
    await move(tenant);
    // Published today on the dedicated database (the owner connection: no staff API needed).
    await dedicatedDatabase()
      .insert(events)
      .values({
        organizationId: tenant.organization.id,
        slug: 'published-there',
        title: 'Published there',
        timezone: 'UTC',
        status: 'published',
        publishedAt: new Date(),
        startsAt: new Date(Date.now() + 86_400_000),
        endsAt: new Date(Date.now() + 90_000_000),
      });
    const today = new Date().toISOString().slice(0, 10);
    const publishedToday = async (db: ReturnType<typeof database>) => {
      const result = await db.execute<{ n: string }>(sql`select count(*) as n from events
        where published_at >= ${today}::date and published_at < ${today}::date + 1`);
      return Number(result.rows[0]?.n);
    };
    const onDedicated = await publishedToday(dedicatedDatabase());
    expect(onDedicated).toBeGreaterThanOrEqual(1);

    const app = bindings();
    const { control, rolledUp, after } = await withCronLock(async () => {
      const before = await publishedToday(database());
      await rollupPlatformMetrics(createDatabase(app), [today], Date.now(), [
        createDatabase(app, undefined, 'dedicated-1'),
      ]);
      return { control: before, rolledUp: await publishedToday(database()), after: await metricValue(today) };
    });
    // Other files publish events on the control database meanwhile: the figure lies between the control counts
    // before and after the rollup, plus the dedicated database's.
    expect(after).toBeGreaterThanOrEqual(control + onDedicated);
    expect(after).toBeLessThanOrEqual(rolledUp + onDedicated);
  });

  it("fans a dedicated organization's events out to its webhooks by the control database's flag definitions", async () => {
    const tenant = await createTenant({ plan: 'pro' });
    await move(tenant);
    const organizationId = tenant.organization.id;
    // The dedicated database's copy of the `webhooks` definition says no plan has the feature; the control
    // database's (the only one the platform writes) gives it to pro.
    const [stale] = await dedicatedDatabase().select().from(featureFlags).where(eq(featureFlags.key, 'webhooks'));
    const [current] = await database().select().from(featureFlags).where(eq(featureFlags.key, 'webhooks'));
    expect(current?.planValues).toMatchObject({ pro: true });
    const off = { starter: false, pro: false, enterprise: false };
    await dedicatedDatabase()
      .insert(featureFlags)
      .values({ key: 'webhooks', description: 'Webhooks', defaultValue: false, planValues: off })
      .onConflictDoUpdate({ target: featureFlags.key, set: { defaultValue: false, planValues: off } });
    try {
      const [endpoint] = await dedicatedDatabase()
        .insert(webhookEndpoints)
        .values({ organizationId, url: 'https://hooks.example.com/eventra', secret: 'not-used-here' })
        .returning({ id: webhookEndpoints.id });
      const payload = { type: 'event.created', timestamp: new Date().toISOString(), data: { id: crypto.randomUUID() } };
      const [event] = await dedicatedDatabase()
        .insert(outbox)
        .values({ organizationId, type: payload.type, payload, dispatchedAt: new Date() })
        .returning();
      if (!endpoint || !event) throw new Error('fixture insert returned nothing');
      const world = queueWorld();
      const outcome = await consumeOne(world, {
        id: event.id,
        type: 'webhook.fanout',
        organizationId,
        payload,
        createdAt: event.createdAt.toISOString(),
      });
      expect(outcome.acked).toBe(true);
      expect(world.webhooks.take('webhook.deliver')).toHaveLength(1);
      const deliveries = await dedicatedDatabase()
        .select({ id: webhookDeliveries.id })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.endpointId, endpoint.id));
      expect(deliveries).toHaveLength(1);
    } finally {
      if (stale === undefined) {
        await dedicatedDatabase().delete(featureFlags).where(eq(featureFlags.key, 'webhooks'));
      } else {
        await dedicatedDatabase()
          .update(featureFlags)
          .set({ defaultValue: stale.defaultValue, planValues: stale.planValues })
          .where(eq(featureFlags.key, 'webhooks'));
      }
    }
  });
});
