import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships, refreshTokens, roles, users } from '../../src/db/schema/index.ts';
import type { MeResponse } from '../../src/routes/auth/me.ts';
import type { RefreshResponse } from '../../src/routes/auth/refresh-token.ts';
import { BUILT_IN_ROLES } from '../../src/services/auth/permissions.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import {
  auditRows,
  claimsOf,
  createPlatformAdmin,
  loginAs,
  platformAuditRows,
  platformLogin,
  post,
  waitForAudits,
} from '../support/auth.ts';
import {
  answerText,
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';

function refresh(tenant: TestTenant, refreshToken: string, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken }, headers);
}

function logout(tenant: TestTenant | null, accessToken: string, query = '') {
  const base = tenant ? tenant.url('/api/v1/auth/logout') : 'http://localhost/api/v1/auth/logout';
  return request(`${base}${query}`, { method: 'POST', headers: bearer(accessToken) });
}

function me(tenant: TestTenant, accessToken: string, headers: Record<string, string> = {}) {
  return request(tenant.url('/api/v1/auth/me'), { headers: bearer(accessToken, headers) });
}

async function tokenRow(refreshToken: string) {
  const [row] = await database()
    .select()
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, await hashToken(refreshToken)));
  if (!row) throw new Error('no refresh token row');
  return row;
}

async function familyRows(familyId: string) {
  return database().select().from(refreshTokens).where(eq(refreshTokens.familyId, familyId));
}

describe('POST /api/v1/auth/refresh-token', () => {
  it('keeps the sign-in time and methods (auth_time, amr) across rotations: refreshing is not signing in', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'staff');
    const first = await loginAs(tenant, member);
    const signedIn = claimsOf(first.accessToken);
    expect(signedIn.amr).toEqual(['pwd']);
    expect(signedIn.auth_time).toBe(signedIn.iat);
    // The family's sign-in was an hour ago: its children's tokens say so.
    await database()
      .update(refreshTokens)
      .set({ authTime: sql`now() - interval '1 hour'`, amr: ['pwd', 'otp', 'mfa'] })
      .where(eq(refreshTokens.familyId, String(signedIn.sid)));
    const response = await refresh(tenant, first.refreshToken);
    expect(response.status).toBe(200);
    const second: RefreshResponse = await response.json();
    const rotated = claimsOf(second.accessToken);
    expect(rotated.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(Number(rotated.auth_time)).toBeGreaterThanOrEqual(Number(signedIn.auth_time) - 3602);
    expect(Number(rotated.auth_time)).toBeLessThanOrEqual(Number(signedIn.auth_time) - 3598);
    const child = await tokenRow(second.refreshToken);
    expect(child.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('rotates: a new pair in the same family, the presented token spent, the rotation audited', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'staff');
    const first = await loginAs(tenant, member);
    const response = await refresh(tenant, first.refreshToken);
    expect(response.status).toBe(200);
    const second: RefreshResponse = await response.json();
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second).toMatchObject({ expiresIn: 900, tokenType: 'Bearer', user: { id: member.userId } });

    const parent = await tokenRow(first.refreshToken);
    const child = await tokenRow(second.refreshToken);
    expect(parent.usedAt).not.toBeNull();
    expect(child).toMatchObject({ familyId: parent.familyId, parentId: parent.id, usedAt: null, revokedAt: null });
    expect(claimsOf(second.accessToken).sid).toBe(parent.familyId);
    const [audit] = await auditRows(tenant.organization.id, 'auth.refresh');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: member.userId, actorType: 'user' });
    expect((await me(tenant, second.accessToken)).status).toBe(200);
  });

  it('issues tokens with the current role, permissions and verification state', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member', { emailVerified: false });
    const session = await loginAs(tenant, member);
    expect(claimsOf(session.accessToken)).toMatchObject({ role: 'member', perms: [], ev: false });
    const [organizer] = await database()
      .select({ id: roles.id })
      .from(roles)
      .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.key, 'organizer')));
    await database()
      .update(memberships)
      .set({ roleId: organizer?.id })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    await database().update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, member.userId));

    const response = await refresh(tenant, session.refreshToken);
    expect(response.status).toBe(200);
    const body: RefreshResponse = await response.json();
    expect(body.user.emailVerified).toBe(true);
    expect(claimsOf(body.accessToken)).toMatchObject({
      role: 'organizer',
      perms: [...BUILT_IN_ROLES.organizer.permissions],
      ev: true,
    });
  });

  it('gives an unverified account no permission in its tokens or in /auth/me, whatever its role holds, until it verifies', async () => {
    const tenant = await createTenant();
    // A custom role without permissions (which may be given to anyone) that gains some later.
    const [helper] = await database()
      .insert(roles)
      .values({ organizationId: tenant.organization.id, key: 'helper', name: 'Helper', permissions: [] })
      .returning({ id: roles.id });
    const member = await createMember(tenant, 'helper', { emailVerified: false });
    await database()
      .update(roles)
      .set({ permissions: ['users:read', 'webhooks:manage'] })
      .where(eq(roles.id, helper?.id ?? ''));
    // And a staff role held by an unverified account from before the rule.
    const admin = await createMember(tenant, 'admin', { emailVerified: false });

    for (const account of [member, admin]) {
      const session = await loginAs(tenant, account);
      expect(claimsOf(session.accessToken)).toMatchObject({ perms: [], ev: false });
      const listed = await request(tenant.url('/api/v1/users'), { headers: bearer(session.accessToken) });
      expect(listed.status).toBe(403);
      const mine: MeResponse = await (await me(tenant, session.accessToken)).json();
      expect(mine.permissions).toEqual([]);
      const renewed = await refresh(tenant, session.refreshToken);
      expect(claimsOf((await renewed.json<RefreshResponse>()).accessToken)).toMatchObject({ perms: [] });
    }

    await database().update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, member.userId));
    const verified = await loginAs(tenant, member);
    expect(claimsOf(verified.accessToken)).toMatchObject({ perms: ['users:read', 'webhooks:manage'], ev: true });
    const mine: MeResponse = await (await me(tenant, verified.accessToken)).json();
    expect(mine.permissions).toEqual(['users:read', 'webhooks:manage']);
  });

  it('keeps every permission of an unverified owner (organization sign-up makes one)', async () => {
    const tenant = await createTenant();
    const owner = await createMember(tenant, 'owner', { emailVerified: false });
    const session = await loginAs(tenant, owner);
    expect(claimsOf(session.accessToken)).toMatchObject({ perms: [...BUILT_IN_ROLES.owner.permissions], ev: false });
    const mine: MeResponse = await (await me(tenant, session.accessToken)).json();
    expect(mine.permissions).toEqual([...BUILT_IN_ROLES.owner.permissions]);
  });

  it('refuses a disabled member and leaves the token unspent', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    await database()
      .update(memberships)
      .set({ status: 'disabled' })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    const response = await refresh(tenant, session.refreshToken);
    expect(response.status).toBe(401);
    const row = await tokenRow(session.refreshToken);
    expect(row.usedAt).toBeNull();
    expect(await familyRows(row.familyId)).toHaveLength(1);
  });

  it('lets concurrent refreshes with one token both succeed within the leeway', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const responses = await Promise.all([refresh(tenant, session.refreshToken), refresh(tenant, session.refreshToken)]);
    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    const [a, b] = (await Promise.all(responses.map((response) => response.json()))) as RefreshResponse[];
    expect(a?.refreshToken).not.toBe(b?.refreshToken);
    const parent = await tokenRow(session.refreshToken);
    const family = await familyRows(parent.familyId);
    expect(family).toHaveLength(3);
    expect(family.filter((row) => row.parentId === parent.id)).toHaveLength(2);
    // Both children are live.
    expect((await refresh(tenant, a?.refreshToken ?? '')).status).toBe(200);
    expect((await refresh(tenant, b?.refreshToken ?? '')).status).toBe(200);
  });

  it('revokes the whole family and its access tokens when a spent token returns after the leeway', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const first = await loginAs(tenant, member);
    const other = await loginAs(tenant, member);
    const second: RefreshResponse = await (await refresh(tenant, first.refreshToken)).json();
    const third: RefreshResponse = await (await refresh(tenant, second.refreshToken)).json();
    const stolen = await tokenRow(first.refreshToken);
    // Simulate time passing: the first token was spent a minute ago.
    await database()
      .update(refreshTokens)
      .set({ usedAt: sql`now() - interval '1 minute'` })
      .where(eq(refreshTokens.id, stolen.id));

    const replay = await refresh(tenant, first.refreshToken);
    expect(replay.status).toBe(401);
    expect((await problem(replay)).detail).toBe('The refresh token is invalid, expired or revoked; sign in again.');
    const family = await familyRows(stolen.familyId);
    expect(family).toHaveLength(3);
    expect(family.every((row) => row.revokedAt !== null)).toBe(true);
    expect((await refresh(tenant, third.refreshToken)).status).toBe(401);
    expect((await me(tenant, third.accessToken)).status).toBe(401);
    const [audit] = await auditRows(tenant.organization.id, 'auth.refresh_reuse_detected');
    expect(audit).toMatchObject({ actorType: 'anonymous', targetId: member.userId });
    expect(audit?.metadata).toEqual({ sessionId: stolen.familyId });

    // Presenting it again changes nothing more (the family is revoked already).
    expect((await refresh(tenant, first.refreshToken)).status).toBe(401);
    expect(await auditRows(tenant.organization.id, 'auth.refresh_reuse_detected')).toHaveLength(1);

    // Every access token of the stolen session ended, the first one included; the user's other session goes on.
    expect((await me(tenant, first.accessToken)).status).toBe(401);
    expect((await me(tenant, second.accessToken)).status).toBe(401);
    const otherRow = await tokenRow(other.refreshToken);
    expect(otherRow.revokedAt).toBeNull();
    expect((await me(tenant, other.accessToken)).status).toBe(200);
    expect((await refresh(tenant, other.refreshToken)).status).toBe(200);
  });

  it('ends a session 30 days after sign-in however often it is refreshed: rotation never extends it', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const first = await tokenRow(session.refreshToken);
    const day = 24 * 60 * 60 * 1000;
    // Idle timeout 14 days, absolute deadline 30 days after sign-in.
    expect(first.expiresAt.getTime() - first.createdAt.getTime()).toBeCloseTo(14 * day, -4);
    expect(first.sessionExpiresAt.getTime() - first.createdAt.getTime()).toBeCloseTo(30 * day, -4);

    // Signed in 29 days 23 hours ago (refreshed daily since): one hour of the session is left.
    await database()
      .update(refreshTokens)
      .set({ sessionExpiresAt: sql`now() + interval '1 hour'` })
      .where(eq(refreshTokens.familyId, first.familyId));
    const rotated: RefreshResponse = await (await refresh(tenant, session.refreshToken)).json();
    const child = await tokenRow(rotated.refreshToken);
    const parent = await tokenRow(session.refreshToken);
    expect(child.sessionExpiresAt).toEqual(parent.sessionExpiresAt);
    // The child's expiry is the session's end, not another 14 days.
    expect(child.expiresAt).toEqual(child.sessionExpiresAt);

    // Past the deadline refresh answers the same 401 as for any expired token, even with an unexpired token.
    await database()
      .update(refreshTokens)
      .set({ sessionExpiresAt: sql`now() - interval '1 second'`, expiresAt: sql`now() + interval '1 day'` })
      .where(eq(refreshTokens.familyId, first.familyId));
    const refused = await refresh(tenant, rotated.refreshToken);
    expect(refused.status).toBe(401);
    expect((await problem(refused)).detail).toBe('The refresh token is invalid, expired or revoked; sign in again.');
  });

  it('answers unknown, expired and revoked tokens with the same 401', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const expired = await loginAs(tenant, member);
    await database()
      .update(refreshTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(refreshTokens.tokenHash, await hashToken(expired.refreshToken)));
    const revoked = await loginAs(tenant, member);
    expect((await logout(tenant, revoked.accessToken)).status).toBe(204);
    const requestId = newRequestId();
    const answers = new Set<string>();
    for (const token of [
      'rt_unknownunknownunknownunknownunknownunknown0',
      expired.refreshToken,
      revoked.refreshToken,
    ]) {
      const response = await refresh(tenant, token, { 'x-request-id': requestId });
      expect(response.status).toBe(401);
      answers.add(await answerText(response));
    }
    expect(answers.size).toBe(1);
  });

  it('refuses a refresh token of another organization, which stays usable at home', async () => {
    const home = await createTenant();
    const away = await createTenant();
    const member = await createMember(home, 'member');
    const session = await loginAs(home, member);
    expect((await refresh(away, session.refreshToken)).status).toBe(401);
    expect((await tokenRow(session.refreshToken)).usedAt).toBeNull();
    expect((await refresh(home, session.refreshToken)).status).toBe(200);
  });

  it('refuses extra fields, and answers 404 on the platform host', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const extra = await post(tenant.url('/api/v1/auth/refresh-token'), {
      refreshToken: session.refreshToken,
      userId: crypto.randomUUID(),
    });
    expect(extra.status).toBe(400);
    expect((await tokenRow(session.refreshToken)).usedAt).toBeNull();
    const platform = await post('http://localhost/api/v1/auth/refresh-token', { refreshToken: session.refreshToken });
    expect(platform.status).toBe(404);
  });
});

describe('guards: reads beside the admission, writes after it', () => {
  it("sends a read's database round trip beside the revocation check and drops its result when the session has ended", async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const live = newRequestId();
    const answer = await me(tenant, session.accessToken, { 'x-request-id': live });
    expect(answer.status).toBe(200);
    expect(await roundTrips(live)).toEqual({ database: 1, redis: 1 });
    expect((await logout(tenant, session.accessToken)).status).toBe(204);

    // The read went out (one database round trip) while Redis answered "ended": the caller gets the 401 alone.
    const ended = newRequestId();
    const refused = await me(tenant, session.accessToken, { 'x-request-id': ended });
    expect(refused.status).toBe(401);
    const body = await answerText(refused);
    expect(JSON.parse(body)).toMatchObject({ detail: 'The session has ended.' });
    expect(body).not.toContain(member.email);
    expect(await roundTrips(ended)).toEqual({ database: 1, redis: 1 });

    // A write waits for the admission: the ended session's POST reaches no database.
    const write = newRequestId();
    const again = await request(tenant.url('/api/v1/auth/logout'), {
      method: 'POST',
      headers: bearer(session.accessToken, { 'x-request-id': write }),
    });
    expect(again.status).toBe(401);
    expect(await roundTrips(write)).toEqual({ database: 0, redis: 1 });
  });
});

describe('POST /api/v1/auth/logout', () => {
  it('ends the session at once: the next request is a 401 and the refresh family is revoked', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const other = await loginAs(tenant, member);
    const response = await logout(tenant, session.accessToken);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');

    const after = await me(tenant, session.accessToken);
    expect(after.status).toBe(401);
    expect((await problem(after)).detail).toBe('The session has ended.');
    expect((await refresh(tenant, session.refreshToken)).status).toBe(401);
    const row = await tokenRow(session.refreshToken);
    expect(row.revokedAt).not.toBeNull();
    const [audit] = await auditRows(tenant.organization.id, 'auth.logout');
    expect(audit).toMatchObject({ actorUserId: member.userId });
    expect(audit?.metadata).toEqual({ sessionId: row.familyId, all: false });

    // The user's other session is untouched.
    expect((await me(tenant, other.accessToken)).status).toBe(200);
    expect((await refresh(tenant, other.refreshToken)).status).toBe(200);
  });

  it('ends every access token of the session, also those issued before the one presented', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const rotated: RefreshResponse = await (await refresh(tenant, session.refreshToken)).json();
    // Both access tokens of the session work until the logout.
    expect((await me(tenant, session.accessToken)).status).toBe(200);
    expect((await me(tenant, rotated.accessToken)).status).toBe(200);
    expect((await logout(tenant, rotated.accessToken)).status).toBe(204);
    for (const accessToken of [session.accessToken, rotated.accessToken]) {
      const after = await me(tenant, accessToken);
      expect(after.status).toBe(401);
      expect((await problem(after)).detail).toBe('The session has ended.');
    }
    expect((await refresh(tenant, rotated.refreshToken)).status).toBe(401);
  });

  it('refuses a refresh token of a logged-out session even when it was written after the logout', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const first = await tokenRow(session.refreshToken);
    expect((await logout(tenant, session.accessToken)).status).toBe(204);
    // What a refresh racing the logout leaves behind: its child is inserted after logout's UPDATE read the family,
    // so it is not revoked itself. The family is ended all the same.
    const straggler = `rt_${crypto.randomUUID()}`;
    await database()
      .insert(refreshTokens)
      .values({
        organizationId: first.organizationId,
        userId: first.userId,
        familyId: first.familyId,
        parentId: first.id,
        tokenHash: await hashToken(straggler),
        expiresAt: first.expiresAt,
        sessionExpiresAt: first.sessionExpiresAt,
      });
    expect((await refresh(tenant, straggler)).status).toBe(401);
  });

  it('with ?all=true ends every session of the user here, and none elsewhere', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const member = await createMember(tenant, 'member');
    await createMember(elsewhere, 'member', { email: member.email });
    const first = await loginAs(tenant, member);
    const second = await loginAs(tenant, member);
    const away = await loginAs(elsewhere, member);
    expect((await logout(tenant, first.accessToken, '?all=true')).status).toBe(204);

    for (const session of [first, second]) {
      expect((await me(tenant, session.accessToken)).status).toBe(401);
      expect((await refresh(tenant, session.refreshToken)).status).toBe(401);
    }
    const live = await database()
      .select()
      .from(refreshTokens)
      .where(and(eq(refreshTokens.organizationId, tenant.organization.id), eq(refreshTokens.userId, member.userId)));
    expect(live.every((row) => row.revokedAt !== null)).toBe(true);
    const [audit] = await auditRows(tenant.organization.id, 'auth.logout');
    expect(audit?.metadata).toMatchObject({ all: true });

    expect((await me(elsewhere, away.accessToken)).status).toBe(200);
    expect((await refresh(elsewhere, away.refreshToken)).status).toBe(200);
  });

  it('answers 401 without a usable token', async () => {
    const tenant = await createTenant();
    const anonymous = await request(tenant.url('/api/v1/auth/logout'), { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const malformed = await request(tenant.url('/api/v1/auth/logout'), {
      method: 'POST',
      headers: { authorization: 'Bearer not-a-jwt' },
    });
    expect(malformed.status).toBe(401);
    expect(malformed.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses an unknown value of ?all with 400', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const response = await logout(tenant, session.accessToken, '?all=yes');
    expect(response.status).toBe(400);
    expect((await problem(response)).errors?.[0]?.pointer).toBe('/query/all');
    expect((await me(tenant, session.accessToken)).status).toBe(200);
  });

  it('ends platform-administrator sessions on the platform host', async () => {
    const admin = await createPlatformAdmin();
    const signIn = () => platformLogin(admin);
    const one = await signIn();
    const two = await signIn();
    expect((await logout(null, one)).status).toBe(204);
    expect((await logout(null, one)).status).toBe(401);
    const three = await signIn();
    expect((await logout(null, two, '?all=true')).status).toBe(204);
    expect((await logout(null, three)).status).toBe(401);
    const audits = await platformAuditRows(admin.userId, 'auth.logout');
    expect(
      audits.map(({ organizationId, actorType, actorUserId, metadata }) => ({
        organizationId,
        actorType,
        actorUserId,
        metadata,
      })),
    ).toEqual([
      {
        organizationId: null,
        actorType: 'platform_admin',
        actorUserId: admin.userId,
        metadata: { sessionId: claimsOf(two).sid, all: true },
      },
      {
        organizationId: null,
        actorType: 'platform_admin',
        actorUserId: admin.userId,
        metadata: { sessionId: claimsOf(one).sid, all: false },
      },
    ]);
  });
});

describe('GET /api/v1/auth/me', () => {
  it('returns the user, the organization, the role and its permissions, and nothing secret', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const session = await loginAs(tenant, member);
    const response = await me(tenant, session.accessToken);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toMatch(/scrypt|passwordHash|isPlatformAdmin/);
    const [user] = await database().select().from(users).where(eq(users.id, member.userId));
    const body = JSON.parse(text) as MeResponse;
    expect(body).toEqual({
      user: {
        id: member.userId,
        email: member.email,
        name: user?.name,
        emailVerified: true,
        locale: 'en',
        timezone: 'UTC',
        preferences: {},
        createdAt: user?.createdAt.toISOString(),
      },
      organizationId: tenant.organization.id,
      role: { key: 'organizer', name: 'Organizer' },
      permissions: [...BUILT_IN_ROLES.organizer.permissions],
    });
  });

  it('signs in with both brute-force limits in one Redis round trip and one database round trip', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'staff');
    await loginAs(tenant, member);
    const requestId = newRequestId();
    const response = await post(
      tenant.url('/api/v1/auth/login'),
      { email: member.email, password: member.password },
      { 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    // Read the account and store the session in one statement, then verify the password in the Worker; the audit
    // row and the last-login time go through AUDIT_QUEUE after the response.
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    // The account-limit unit of the right password goes back after the response, in its own round trip.
    await expect.poll(() => roundTrips(`${requestId}.after-response`)).toEqual({ database: 0, redis: 1 });
    await waitForAudits(tenant.organization.id, 'auth.login', 2);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(await roundTrips(`${requestId}.after-response`)).toEqual({ database: 0, redis: 1 });
  });

  it('costs one database round trip and one Redis round trip on a warm host', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'admin');
    const session = await loginAs(tenant, member);
    expect((await me(tenant, session.accessToken)).status).toBe(200);
    const requestId = newRequestId();
    const response = await me(tenant, session.accessToken, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
  });

  it('answers 401 without a token and for a member disabled since the token was issued', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    expect((await request(tenant.url('/api/v1/auth/me'))).status).toBe(401);
    await database()
      .update(memberships)
      .set({ status: 'disabled' })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    const response = await me(tenant, session.accessToken);
    expect(response.status).toBe(401);
    expect((await problem(response)).detail).toBe('The session has ended.');
  });

  it('answers 404 on the platform host, anonymously and to a platform administrator', async () => {
    const response = await request('http://localhost/api/v1/auth/me');
    expect(response.status).toBe(404);
    const accessToken = await platformLogin(await createPlatformAdmin());
    const platform = await request('http://localhost/api/v1/auth/me', { headers: bearer(accessToken) });
    expect(platform.status).toBe(404);
  });
});
