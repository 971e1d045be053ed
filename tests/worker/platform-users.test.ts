import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, memberships, roles, users } from '../../src/db/schema/index.ts';
import { loginAs, poll, post, randomIp } from '../support/auth.ts';
import {
  createTenant,
  database,
  newRequestId,
  otherDatabases,
  problem,
  request,
  roundTrips,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM, platformCall as platform, platformToken } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';

// Issue #16 part 1: platform-level account search and session revocation, on the platform host.

interface Summary {
  id: string;
  email: string;
  organizations: number;
  lastLoginAt: string | null;
}

/** A member of one organization, added to a second one as staff (same account). */
async function memberOfTwo() {
  const first = await createTenant();
  const second = await createTenant();
  const { member, token } = await memberWithToken(first, 'organizer');
  const [staff] = await database()
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, second.organization.id), eq(roles.key, 'staff')));
  await database()
    .insert(memberships)
    .values({ organizationId: second.organization.id, userId: member.userId, roleId: staff?.id ?? '' });
  return { first, second, member, token };
}

describe('platform accounts', () => {
  it('finds an account by email or name prefix and shows its memberships, never a secret', async () => {
    const admin = await createPlatformAdmin();
    const { first, second, member } = await memberOfTwo();
    await loginAs(first, member);
    await loginAs(second, member);
    // The sign-in's last-login time is written after its response (the audit queue).
    await poll(async () => {
      const rows = await database()
        .select({ at: memberships.lastLoginAt })
        .from(memberships)
        .where(eq(memberships.userId, member.userId));
      return rows.every((row) => row.at !== null) ? rows : undefined;
    }, 'the last-login times');

    const requestId = newRequestId();
    const search = await platform(
      `/api/v1/platform/users?q=${encodeURIComponent(member.email.slice(0, -3))}`,
      admin.token,
      {
        headers: { 'x-request-id': requestId },
      },
    );
    expect(search.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const page = await search.json<{ data: Summary[]; nextCursor: string | null }>();
    expect(page.data.map((row) => row.email)).toEqual([member.email]);
    const found = page.data.find((row) => row.id === member.userId);
    expect(found).toMatchObject({ email: member.email, organizations: 2 });
    expect(found?.lastLoginAt).not.toBeNull();

    const detailId = newRequestId();
    const detail = await platform(`/api/v1/platform/users/${member.userId}`, admin.token, {
      headers: { 'x-request-id': detailId },
    });
    expect(detail.status).toBe(200);
    // The control database, and each dedicated one side by side (its memberships).
    expect(await roundTrips(detailId)).toEqual({ database: 1 + otherDatabases(), redis: 1 });
    const text = await detail.text();
    expect(text).not.toContain('scrypt$');
    const account = JSON.parse(text) as {
      memberships: { organization: { id: string }; role: string; activeSessions: number }[];
    };
    expect(account.memberships.map((m) => m.organization.id).sort()).toEqual(
      [first.organization.id, second.organization.id].sort(),
    );
    expect(account.memberships.every((m) => m.activeSessions >= 1)).toBe(true);
    expect(account.memberships.find((m) => m.organization.id === second.organization.id)?.role).toBe('staff');

    // Pages by email, each account once.
    const one = await platform('/api/v1/platform/users?limit=1', admin.token);
    const first1 = await one.json<{ data: Summary[]; nextCursor: string }>();
    const two = await platform(`/api/v1/platform/users?limit=1&cursor=${first1.nextCursor}`, admin.token);
    const second1 = await two.json<{ data: Summary[] }>();
    expect((second1.data[0]?.email ?? '') > (first1.data[0]?.email ?? '')).toBe(true);

    // Addresses beyond Latin-1 page too (the cursor is UTF-8 in base64url).
    const tag = crypto.randomUUID().slice(0, 8);
    const unicode = [`zz-жук中-${tag}-a@example.test`, `zz-жук中-${tag}-b@example.test`];
    await database()
      .insert(users)
      .values(unicode.map((email) => ({ email, name: 'Жук' })));
    const q = encodeURIComponent(`zz-жук中-${tag}`);
    const firstUnicode = await platform(`/api/v1/platform/users?q=${q}&limit=1`, admin.token);
    const pageOne = await firstUnicode.json<{ data: Summary[]; nextCursor: string }>();
    const secondUnicode = await platform(
      `/api/v1/platform/users?q=${q}&limit=1&cursor=${pageOne.nextCursor}`,
      admin.token,
    );
    expect(secondUnicode.status).toBe(200);
    const pageTwo = await secondUnicode.json<{ data: Summary[]; nextCursor: string | null }>();
    expect([...pageOne.data, ...pageTwo.data].map((row) => row.email)).toEqual(unicode);
    expect(pageTwo.nextCursor).toBeNull();

    for (const query of ['?limit=0', '?limit=101', '?cursor=bm90LWFuLWVtYWls', '?q=', '?role=x']) {
      expect((await platform(`/api/v1/platform/users${query}`, admin.token)).status, query).toBe(400);
    }
    expect((await platform(`/api/v1/platform/users/${crypto.randomUUID()}`, admin.token)).status).toBe(404);
    expect((await platform('/api/v1/platform/users/not-a-uuid', admin.token)).status).toBe(400);
  });

  it('ends every session of the account in every organization at once, audited with the reason', async () => {
    const admin = await createPlatformAdmin();
    const { first, second, member } = await memberOfTwo();
    const inFirst = await loginAs(first, member);
    const inSecond = await loginAs(second, member);

    const missingReason = await platform(`/api/v1/platform/users/${member.userId}/revoke-sessions`, admin.token, {
      method: 'POST',
      body: {},
    });
    expect(missingReason.status).toBe(400);

    const requestId = newRequestId();
    const revoked = await platform(`/api/v1/platform/users/${member.userId}/revoke-sessions`, admin.token, {
      method: 'POST',
      body: { reason: 'Support #4711: lost laptop' },
      headers: { 'x-request-id': requestId },
    });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toEqual({ sessionsRevoked: 2, tenants: 2 });
    expect(await roundTrips(requestId)).toEqual({ database: 1 + otherDatabases(), redis: 2 });

    expect((await call(first, 'GET', '/api/v1/auth/me', { token: inFirst.accessToken })).status).toBe(401);
    expect((await call(second, 'GET', '/api/v1/auth/me', { token: inSecond.accessToken })).status).toBe(401);
    const refresh = await post(first.url('/api/v1/auth/refresh-token'), { refreshToken: inFirst.refreshToken });
    expect(refresh.status).toBe(401);
    // A new sign-in works: the password was not touched.
    expect((await loginAs(first, member)).accessToken).toBeTruthy();

    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(
        and(
          isNull(auditLogs.organizationId),
          eq(auditLogs.action, 'platform.user_sessions_revoked'),
          eq(auditLogs.targetId, member.userId),
        ),
      );
    expect(audit).toMatchObject({
      actorUserId: admin.userId,
      targetType: 'user',
      metadata: { reason: 'Support #4711: lost laptop' },
    });
    const unknown = await platform(`/api/v1/platform/users/${crypto.randomUUID()}/revoke-sessions`, admin.token, {
      method: 'POST',
      body: { reason: 'no such account' },
    });
    expect(unknown.status).toBe(404);
  });

  it("lists the platform's own audit entries (no organization's), filtered and paged like an organization's", async () => {
    const admin = await createPlatformAdmin();
    const { first, member } = await memberOfTwo();
    for (const reason of ['first revocation', 'second revocation']) {
      const revoked = await platform(`/api/v1/platform/users/${member.userId}/revoke-sessions`, admin.token, {
        method: 'POST',
        body: { reason },
      });
      expect(revoked.status).toBe(200);
    }
    const requestId = newRequestId();
    const listed = await platform(
      `/api/v1/platform/audit-logs?action=platform.user_sessions_revoked&actor=${admin.userId}&limit=1`,
      admin.token,
      { headers: { 'x-request-id': requestId } },
    );
    expect(listed.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const page = await listed.json<{ data: { action: string; metadata: { reason?: string } }[]; nextCursor: string }>();
    expect(page.data).toMatchObject([
      { action: 'platform.user_sessions_revoked', metadata: { reason: 'second revocation' } },
    ]);
    const next = await platform(
      `/api/v1/platform/audit-logs?action=platform.user_sessions_revoked&actor=${admin.userId}&limit=1&cursor=${page.nextCursor}`,
      admin.token,
    );
    const older = await next.json<{ data: { metadata: { reason?: string } }[]; nextCursor: string | null }>();
    expect(older.data.map((entry) => entry.metadata.reason)).toEqual(['first revocation']);
    expect(older.nextCursor).toBeNull();
    // No organization's entries: the member's organization wrote some (its member was created there).
    const everything = await platform(`/api/v1/platform/audit-logs?actor=${member.userId}`, admin.token);
    expect((await everything.json<{ data: unknown[] }>()).data).toEqual([]);
    expect((await platform('/api/v1/platform/audit-logs?limit=0', admin.token)).status).toBe(400);
    expect((await call(first, 'GET', '/api/v1/platform/audit-logs', { token: admin.token })).status).toBe(404);
  });

  it('shows one organization to support: plan, members, events, latest activity and 30 days of usage', async () => {
    const admin = await createPlatformAdmin();
    const { first, member } = await memberOfTwo();
    await memberWithToken(first, 'owner');
    await loginAs(first, member);
    await poll(async () => {
      const rows = await database()
        .select({ at: memberships.lastLoginAt })
        .from(memberships)
        .where(and(eq(memberships.organizationId, first.organization.id), eq(memberships.userId, member.userId)));
      return rows[0]?.at ? rows : undefined;
    }, 'the last-login time');
    const requestId = newRequestId();
    const response = await platform(`/api/v1/organizations/${first.organization.id}`, admin.token, {
      headers: { 'x-request-id': requestId },
    });
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 2 });
    const detail = await response.json<{
      organization: { id: string; slug: string };
      plan: { plan: string; quotas: Record<string, unknown> };
      members: { total: number; active: number; owners: number };
      events: { total: number };
      lastSignInAt: string | null;
      lastActivityAt: string | null;
      usage: { day: string }[];
    }>();
    expect(detail.organization).toMatchObject({ id: first.organization.id, slug: first.organization.slug });
    expect(detail.plan.plan).toBe(first.organization.plan);
    expect(detail.members).toMatchObject({ total: 2, active: 2, owners: 1 });
    expect(detail.lastSignInAt).not.toBeNull();
    expect(detail.usage).toHaveLength(30);
    expect(detail.usage.at(-1)?.day).toBe(new Date().toISOString().slice(0, 10));
    expect((await platform(`/api/v1/organizations/${crypto.randomUUID()}`, admin.token)).status).toBe(404);
    expect((await platform('/api/v1/organizations/acme', admin.token)).status).toBe(400);
    const notAdmin = await platformToken(member.userId, 'member');
    expect((await platform(`/api/v1/organizations/${first.organization.id}`, notAdmin)).status).toBe(403);
  });

  it('is refused to anyone but a platform administrator, and not served on organization hosts', async () => {
    const { first, member, token } = await memberOfTwo();
    const notAdmin = await platformToken(member.userId, 'member');
    const refused = await platform('/api/v1/platform/users', notAdmin);
    expect(refused.status).toBe(403);
    expect((await problem(refused)).code).toBe('forbidden');
    const revoke = await platform(`/api/v1/platform/users/${member.userId}/revoke-sessions`, notAdmin, {
      method: 'POST',
      body: { reason: 'try it' },
    });
    expect(revoke.status).toBe(403);
    expect((await platform('/api/v1/platform/audit-logs', notAdmin)).status).toBe(403);
    expect((await call(first, 'GET', '/api/v1/platform/users', { token })).status).toBe(404);
    expect(
      (await request(`${PLATFORM}/api/v1/platform/users`, { headers: { 'cf-connecting-ip': randomIp() } })).status,
    ).toBe(401);
  });
});
