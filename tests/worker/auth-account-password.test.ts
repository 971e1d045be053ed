import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships } from '../../src/db/schema/index.ts';
import type { ChangePasswordResponse } from '../../src/routes/auth/change-password.ts';
import { STEP_UP_MAX_AGE_SECONDS } from '../../src/middleware/auth.ts';
import { AUTH_LIMITS } from '../../src/services/auth/limits.ts';
import {
  auditRows,
  claimsOf,
  linkToken,
  loginAs,
  mailbox,
  post,
  randomIp,
  userRow,
  waitForAudits,
  waitForMail,
} from '../support/auth.ts';
import {
  createMember,
  createTenant,
  database,
  newRequestId,
  otherDatabases,
  problem,
  roundTrips,
  TEST_PASSWORD,
  tokenFor,
  type TestMember,
  type TestTenant,
} from '../support/harness.ts';
import { awayFromWindowEdge } from '../support/plans.ts';
import { call } from '../support/users.ts';

const NEW_PASSWORD = 'copper lantern harbor seventy';

function changePassword(
  tenant: TestTenant,
  token: string,
  body: { currentPassword: string; newPassword: string },
  headers: Record<string, string> = {},
) {
  return call(tenant, 'POST', '/api/v1/auth/change-password', { token, body, headers });
}

function refresh(tenant: TestTenant, refreshToken: string) {
  return post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken });
}

function me(tenant: TestTenant, token: string) {
  return call(tenant, 'GET', '/api/v1/auth/me', { token });
}

async function account() {
  const tenant = await createTenant();
  const member = await createMember(tenant, 'organizer');
  return { tenant, member };
}

async function passwordUnchanged(tenant: TestTenant, member: TestMember) {
  const response = await post(tenant.url('/api/v1/auth/login'), { email: member.email, password: TEST_PASSWORD });
  expect(response.status).toBe(200);
}

describe('POST /api/v1/auth/change-password', () => {
  // Five sign-ins and a password change, each a scrypt hash or check: slow on a loaded machine.
  it(
    'changes the password, ends every other session everywhere and keeps the calling one',
    { timeout: 90_000 },
    async () => {
      const { tenant, member } = await account();
      const other = await createTenant();
      await createMember(other, 'member', { email: member.email });
      const mine = await loginAs(tenant, member);
      const second = await loginAs(tenant, member);
      const elsewhere = await loginAs(other, member);
      const forgot = await post(tenant.url('/api/v1/auth/forgot-password'), { email: member.email });
      expect(forgot.status).toBe(202);
      const resetLink = linkToken(await waitForMail(member.email));

      const requestId = newRequestId();
      const response = await changePassword(
        tenant,
        mine.accessToken,
        { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD },
        {
          'x-request-id': requestId,
          'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
        },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body: ChangePasswordResponse = await response.json();
      expect(body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
      // Authentication, account + limit, change + revocation: two database and three Redis round trips, and one
      // more database round trip per other database the Worker knows (the account's copies there).
      expect(await roundTrips(requestId)).toEqual({ database: 2 + otherDatabases(), redis: 3 });

      // The same session, with its sign-in time: a new token, not a new sign-in.
      const before = claimsOf(mine.accessToken);
      const after = claimsOf(body.accessToken);
      expect(after).toMatchObject({
        sid: before.sid,
        auth_time: before.auth_time,
        amr: before.amr,
        sub: member.userId,
      });
      expect((await me(tenant, body.accessToken)).status).toBe(200);
      expect((await me(tenant, mine.accessToken)).status).toBe(401);
      expect((await refresh(tenant, mine.refreshToken)).status).toBe(200);

      // Every other session ends at once, in this organization and in the other one.
      expect((await me(tenant, second.accessToken)).status).toBe(401);
      expect((await refresh(tenant, second.refreshToken)).status).toBe(401);
      expect((await me(other, elsewhere.accessToken)).status).toBe(401);
      expect((await refresh(other, elsewhere.refreshToken)).status).toBe(401);

      // The new password signs in (everywhere), the old one no longer does, and the reset link is spent.
      await loginAs(other, { email: member.email, password: NEW_PASSWORD });
      const old = await post(tenant.url('/api/v1/auth/login'), { email: member.email, password: TEST_PASSWORD });
      expect(old.status).toBe(401);
      const reset = await post(tenant.url('/api/v1/auth/reset-password'), {
        token: resetLink,
        password: 'x'.repeat(20),
      });
      expect(reset.status).toBe(400);

      const [audit] = await auditRows(tenant.organization.id, 'auth.password_changed');
      expect(audit).toMatchObject({ actorUserId: member.userId, targetId: member.userId });
      expect(audit?.metadata).toMatchObject({ sessionId: before.sid });

      const mail = await waitForMail(member.email, 2);
      expect(mail.subject).toBe(`Your Test ${tenant.organization.slug} password was changed`);
      expect(mail.text).toContain('Device: Firefox on Linux');
      expect(mail.text).toContain('When: ');
      expect(mail.links).toEqual([`http://${tenant.host}/forgot-password`]);
      expect(mail.text).not.toContain(NEW_PASSWORD);
    },
  );

  it('writes the time in the account’s time zone in the email', async () => {
    const { tenant, member } = await account();
    const token = await tokenFor(tenant, member);
    expect((await call(tenant, 'PATCH', '/api/v1/auth/me', { token, body: { timezone: 'Asia/Tokyo' } })).status).toBe(
      200,
    );
    const response = await changePassword(tenant, token, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
    expect(response.status).toBe(200);
    const mail = await waitForMail(member.email);
    expect(mail.text).toMatch(/When: .*GMT\+9/);
    expect(mail.text).toContain('Device: Unknown device');
  });

  it('refuses a wrong current password with 400 at the field, audits it and changes nothing', async () => {
    const { tenant, member } = await account();
    const session = await loginAs(tenant, member);
    const response = await changePassword(tenant, session.accessToken, {
      currentPassword: 'not the password at all',
      newPassword: NEW_PASSWORD,
    });
    expect(response.status).toBe(400);
    const answer = await problem(response);
    expect(answer.errors).toEqual([
      { pointer: '/body/currentPassword', message: 'The current password is incorrect.' },
    ]);
    const [failed] = await waitForAudits(tenant.organization.id, 'auth.password_change_failed');
    expect(failed).toMatchObject({ actorUserId: member.userId, targetId: member.userId });
    expect(failed?.metadata).toMatchObject({ reason: 'wrong_password' });
    expect((await me(tenant, session.accessToken)).status).toBe(200);
    await passwordUnchanged(tenant, member);
    expect(await auditRows(tenant.organization.id, 'auth.password_changed')).toHaveLength(0);
  });

  it.each([
    ['a weak password', 'password1', 'too common'],
    ['a password built from the email address', '', 'built from your email address'],
    ['the current password again', TEST_PASSWORD, 'must differ'],
  ])('refuses %s as the new one with 400 at /body/newPassword', async (_case, candidate, message) => {
    const { tenant, member } = await account();
    const token = await tokenFor(tenant, member);
    const newPassword = candidate === '' ? `${member.email.split('@')[0] ?? ''}!` : candidate;
    const response = await changePassword(tenant, token, { currentPassword: TEST_PASSWORD, newPassword });
    expect(response.status).toBe(400);
    const answer = await problem(response);
    expect(answer.errors?.[0]?.pointer).toBe('/body/newPassword');
    expect(answer.errors?.[0]?.message).toContain(message);
    await passwordUnchanged(tenant, member);
  });

  it('needs a recent sign-in (step-up), even with the right current password', async () => {
    const { tenant, member } = await account();
    const stale = await tokenFor(tenant, member, {
      authTime: Math.floor(Date.now() / 1000) - STEP_UP_MAX_AGE_SECONDS - 60,
    });
    const response = await changePassword(tenant, stale, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
    expect(response.status).toBe(401);
    expect((await problem(response)).code).toBe('reauthentication_required');
    await passwordUnchanged(tenant, member);
  });

  it('limits guesses at the current password with the account’s sign-in bucket', { timeout: 90_000 }, async () => {
    const { tenant, member } = await account();
    const token = await tokenFor(tenant, member);
    const { limit } = AUTH_LIMITS.loginAccount;
    // A fixed window: the burst must not straddle its edge (it would start counting again).
    await awayFromWindowEdge(30_000, 15 * 60_000);
    for (let attempt = 0; attempt < limit; attempt += 1) {
      const wrong = await changePassword(
        tenant,
        token,
        { currentPassword: `guess number ${attempt}`, newPassword: NEW_PASSWORD },
        { 'cf-connecting-ip': randomIp() },
      );
      expect(wrong.status).toBe(400);
    }
    const limited = await changePassword(tenant, token, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
    expect(limited.status).toBe(429);
    expect((await problem(limited)).code).toBe('rate_limited');
    // The same bucket as sign-in: signing in is refused too now.
    const login = await post(tenant.url('/api/v1/auth/login'), { email: member.email, password: TEST_PASSWORD });
    expect(login.status).toBe(429);
  });

  it('lets one of two concurrent changes win; the other answers 409', async () => {
    const { tenant, member } = await account();
    const token = await tokenFor(tenant, member);
    const answers = await Promise.all([
      changePassword(tenant, token, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }),
      changePassword(tenant, token, { currentPassword: TEST_PASSWORD, newPassword: `${NEW_PASSWORD} two` }),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    expect(await auditRows(tenant.organization.id, 'auth.password_changed')).toHaveLength(1);
  });

  it('answers 401 when the membership ended since the token was issued', async () => {
    const { tenant, member } = await account();
    const token = await tokenFor(tenant, member);
    await database()
      .update(memberships)
      .set({ status: 'disabled' })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    const response = await changePassword(tenant, token, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
    expect(response.status).toBe(401);
    expect((await userRow(member.email)).passwordHash).not.toBeNull();
    expect(await mailbox(member.email)).toHaveLength(0);
  });
});
