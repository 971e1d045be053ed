import { scryptSync } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, memberships, refreshTokens, users } from '../../src/db/schema/index.ts';
import { scoped } from '../../src/db/tenant.ts';
import type { LoginResponse } from '../../src/routes/auth/login.ts';
import { BUILT_IN_ROLES } from '../../src/services/auth/permissions.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import {
  auditRows,
  claimsOf,
  createPlatformAdmin,
  loginAs,
  platformAuditRows,
  post,
  randomEmail,
  randomIp,
  userRow,
  waitForAudits,
  waitForPlatformAudits,
} from '../support/auth.ts';
import {
  answerText,
  appDatabase,
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  TEST_PASSWORD,
  type TestTenant,
} from '../support/harness.ts';

/** A hash in the stored format with weaker parameters than the policy (as an older release would have stored). */
function weakHash(password: string): string {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = scryptSync(password.normalize('NFKC'), salt, 32, { N: 1024, r: 8, p: 1 });
  const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  return `scrypt$1024$8$1$${base64(salt)}$${base64(key)}`;
}

async function setPasswordHash(userId: string, passwordHash: string | null): Promise<void> {
  await database().update(users).set({ passwordHash }).where(eq(users.id, userId));
}

function login(tenant: TestTenant | null, email: string, password: string, headers: Record<string, string> = {}) {
  const url = tenant ? tenant.url('/api/v1/auth/login') : 'http://localhost/api/v1/auth/login';
  return post(url, { email, password }, headers);
}

describe('POST /api/v1/auth/login', () => {
  it('signs a member in with a new session carrying the role, and records the login', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const response = await login(tenant, member.email.toUpperCase(), TEST_PASSWORD);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toMatch(/scrypt|passwordHash|tokenHash/);
    const body = JSON.parse(text) as LoginResponse;
    expect(body.user).toMatchObject({ id: member.userId, email: member.email, emailVerified: true });
    expect(body).toMatchObject({ expiresIn: 900, tokenType: 'Bearer' });
    const claims = claimsOf(body.accessToken);
    expect(claims).toMatchObject({
      sub: member.userId,
      org: tenant.organization.id,
      role: 'organizer',
      perms: [...BUILT_IN_ROLES.organizer.permissions],
      ev: true,
    });
    expect(body.refreshToken).toMatch(/^rt_/);
    const [family] = await database()
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, await hashToken(body.refreshToken ?? '')));
    expect(family).toMatchObject({ userId: member.userId, familyId: claims.sid, usedAt: null, revokedAt: null });
    const [membership] = await database()
      .select({ lastLoginAt: memberships.lastLoginAt })
      .from(memberships)
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    expect(Math.abs((membership?.lastLoginAt?.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);
    const [audit] = await auditRows(tenant.organization.id, 'auth.login');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetType: 'user', targetId: member.userId });
    expect(audit?.metadata).toEqual({ sessionId: claims.sid, rehashed: false });
    expect((await request(tenant.url('/api/v1/auth/me'), { headers: bearer(body.accessToken) })).status).toBe(200);
  });

  it('signs in before the address is verified and says so', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member', { emailVerified: false });
    const body = await loginAs(tenant, member);
    expect(body.user.emailVerified).toBe(false);
    expect(claimsOf(body.accessToken).ev).toBe(false);
  });

  it('answers an unknown address, a wrong password, an outsider, an invited and a disabled member identically', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const member = await createMember(tenant, 'staff');
    const disabled = await createMember(tenant, 'member', { status: 'disabled' });
    const invited = await createMember(tenant, 'member', { status: 'invited' });
    await setPasswordHash(invited.userId, null);
    const outsider = await createMember(elsewhere, 'owner');
    const requestId = newRequestId();
    const attempts = [
      [randomEmail(tenant), TEST_PASSWORD],
      [member.email, 'wrong password here'],
      [outsider.email, TEST_PASSWORD],
      [disabled.email, TEST_PASSWORD],
      [invited.email, TEST_PASSWORD],
    ] as const;
    const answers: string[] = [];
    for (const [email, password] of attempts) {
      const response = await login(tenant, email, password, { 'x-request-id': requestId });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      answers.push(await answerText(response));
    }
    expect(new Set(answers).size).toBe(1);
    expect(JSON.parse(answers[0] ?? '')).toMatchObject({
      code: 'invalid_credentials',
      detail: 'The email address or the password is incorrect.',
    });

    const rows = await waitForAudits(tenant.organization.id, 'auth.login_failed', 3);
    const reasons: Record<string, unknown> = {};
    for (const row of rows) reasons[row.targetId ?? 'none'] = row.metadata;
    expect(reasons).toEqual({
      [member.userId]: { reason: 'wrong_password' },
      [disabled.userId]: { reason: 'membership_disabled' },
      [invited.userId]: { reason: 'membership_invited' },
    });
    expect(rows.every((row) => row.actorType === 'anonymous' && row.actorUserId === null)).toBe(true);
    expect(JSON.stringify(rows.map((row) => row.metadata))).not.toContain('wrong password here');
    expect(await auditRows(elsewhere.organization.id, 'auth.login_failed')).toEqual([]);
    expect(await auditRows(tenant.organization.id, 'auth.login')).toEqual([]);
  });

  it('spends comparable time on an unknown address and on a wrong password', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const time = async (email: string) => {
      const started = performance.now();
      expect((await login(tenant, email, 'not the password at all')).status).toBe(401);
      return performance.now() - started;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const unknown: number[] = [];
    const known: number[] = [];
    for (let round = 0; round < 5; round++) {
      unknown.push(await time(randomEmail(tenant)));
      known.push(await time(member.email));
    }
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
    expect(median(known)).toBeGreaterThan(median(unknown) * 0.5);
  });

  it('rehashes a password stored with weaker parameters on a successful sign-in', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    await setPasswordHash(member.userId, weakHash(TEST_PASSWORD));
    await loginAs(tenant, member);
    const rehashed = await userRow(member.email);
    expect(rehashed.passwordHash).toMatch(/^scrypt\$16384\$8\$5\$/);
    const [audit] = await auditRows(tenant.organization.id, 'auth.login');
    expect(audit?.metadata).toMatchObject({ rehashed: true });
    await loginAs(tenant, member);
    expect((await userRow(member.email)).passwordHash).toBe(rehashed.passwordHash);
  });

  it('treats an unreadable stored hash as a wrong password, not an error', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const key = 'A'.repeat(43) + '=';
    const salt = 'A'.repeat(22) + '==';
    const unreadable = [
      `scrypt$3$8$1$${salt}$${key}`, // N not a power of two: scrypt itself refuses
      `scrypt$0$8$1$${salt}$${key}`, // zero cost parameter
      `scrypt$16384$8$5$not*base64$${key}`, // corrupt salt
      'bcrypt$2b$10$x', // another scheme
    ];
    const requestId = newRequestId();
    const answers = new Set<string>();
    for (const stored of unreadable) {
      await setPasswordHash(member.userId, stored);
      const response = await login(tenant, member.email, TEST_PASSWORD, { 'x-request-id': requestId });
      expect(response.status).toBe(401);
      answers.add(await answerText(response));
    }
    expect(answers.size).toBe(1);
    expect(JSON.parse([...answers][0] ?? '')).toMatchObject({ code: 'invalid_credentials' });
  });

  it('refuses extra fields, oversized passwords and non-JSON bodies before any work', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const extra = await post(tenant.url('/api/v1/auth/login'), {
      email: member.email,
      password: TEST_PASSWORD,
      organizationId: crypto.randomUUID(),
    });
    expect(extra.status).toBe(400);
    const huge = await post(tenant.url('/api/v1/auth/login'), { email: member.email, password: 'x'.repeat(1_000_000) });
    expect(huge.status).toBe(400);
    expect((await problem(huge)).errors?.[0]?.pointer).toBe('/body/password');
    const form = await post(tenant.url('/api/v1/auth/login'), `email=${encodeURIComponent(member.email)}&password=x`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect(await auditRows(tenant.organization.id, 'auth.login')).toEqual([]);
  });
});

describe('POST /api/v1/auth/login on the platform host', () => {
  it('signs a platform administrator in without a refresh token', async () => {
    const admin = await createPlatformAdmin();
    const response = await login(null, admin.email, admin.password);
    expect(response.status).toBe(200);
    const body: LoginResponse = await response.json();
    expect('refreshToken' in body).toBe(false);
    expect(body.user).toMatchObject({ id: admin.userId, email: admin.email, emailVerified: true });
    expect(claimsOf(body.accessToken)).toMatchObject({
      sub: admin.userId,
      org: 'platform',
      role: 'platform_admin',
      perms: [],
    });
    expect(await database().select().from(refreshTokens).where(eq(refreshTokens.userId, admin.userId))).toEqual([]);

    // The platform token is no good on an organization host.
    const tenant = await createTenant();
    const onTenant = await request(tenant.url('/api/v1/auth/me'), { headers: bearer(body.accessToken) });
    expect(onTenant.status).toBe(401);
  });

  it('audits the sign-in as a platform event, which no organization can read', async () => {
    const admin = await createPlatformAdmin();
    const ip = randomIp();
    const response = await post(
      'http://localhost/api/v1/auth/login',
      { email: admin.email, password: admin.password },
      { 'user-agent': 'platform-console/1.0' },
      ip,
    );
    expect(response.status).toBe(200);
    const { accessToken }: LoginResponse = await response.json();
    const [audit, ...more] = await platformAuditRows(admin.userId, 'auth.login');
    expect(more).toEqual([]);
    expect(audit).toMatchObject({
      organizationId: null,
      actorType: 'platform_admin',
      actorUserId: admin.userId,
      targetType: 'user',
      targetId: admin.userId,
      ip,
      userAgent: 'platform-console/1.0',
    });
    expect(audit?.metadata).toEqual({ sessionId: claimsOf(accessToken).sid, rehashed: false });

    // Row-level security: the row exists in platform mode only, never in an organization's view.
    const tenant = await createTenant();
    const app = appDatabase();
    const ofAdmin = (db: typeof app) =>
      db.select({ id: auditLogs.id }).from(auditLogs).where(eq(auditLogs.actorUserId, admin.userId));
    const [inTenant] = await scoped(app, { organizationId: tenant.organization.id }, [ofAdmin(app)]);
    expect(inTenant).toEqual([]);
    const [inPlatform] = await scoped(app, { platform: true }, [ofAdmin(app)]);
    expect(inPlatform).toEqual([{ id: audit?.id }]);
  });

  it('refuses ordinary users, wrong passwords and unknown addresses with the same 401', async () => {
    const tenant = await createTenant();
    const owner = await createMember(tenant, 'owner');
    const admin = await createPlatformAdmin();
    const requestId = newRequestId();
    const answers = new Set<string>();
    for (const [email, password] of [
      [owner.email, TEST_PASSWORD],
      [admin.email, 'not the admin password'],
      [randomEmail(), TEST_PASSWORD],
    ] as const) {
      const response = await login(null, email, password, { 'x-request-id': requestId });
      expect(response.status).toBe(401);
      answers.add(await answerText(response));
    }
    expect(answers.size).toBe(1);
    // A failed attempt on a platform administrator's account is audited (after the response); the others are not.
    const [failure, ...more] = await waitForPlatformAudits(admin.userId, 'auth.login_failed');
    expect(more).toEqual([]);
    expect(failure).toMatchObject({
      organizationId: null,
      actorType: 'anonymous',
      actorUserId: null,
      targetId: admin.userId,
      correlationId: requestId,
    });
    expect(failure?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(failure?.metadata).toEqual({ reason: 'wrong_password' });
    expect(await platformAuditRows(admin.userId, 'auth.login')).toEqual([]);
    const platformRowsOfOthers = await database()
      .select({ id: auditLogs.id })
      .from(auditLogs)
      .where(and(isNull(auditLogs.organizationId), eq(auditLogs.correlationId, requestId)));
    expect(platformRowsOfOthers).toEqual([{ id: failure?.id }]);
  });

  it('rehashes a platform administrator password stored with weaker parameters', async () => {
    const admin = await createPlatformAdmin(weakHash(TEST_PASSWORD));
    const response = await post('http://localhost/api/v1/auth/login', {
      email: admin.email,
      password: TEST_PASSWORD,
    });
    expect(response.status).toBe(200);
    expect((await userRow(admin.email)).passwordHash).toMatch(/^scrypt\$16384\$8\$5\$/);
    const [audit] = await platformAuditRows(admin.userId, 'auth.login');
    expect(audit?.metadata).toMatchObject({ rehashed: true });
  });
});
