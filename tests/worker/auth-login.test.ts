import { scryptSync } from 'node:crypto';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, memberships, refreshTokens, users } from '../../src/db/schema/index.ts';
import { scoped } from '../../src/db/tenant.ts';
import type { LoginResponse } from '../../src/routes/auth/login.ts';
import { BUILT_IN_ROLES } from '../../src/services/auth/permissions.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import { LOGIN_RECORD_MESSAGE } from '../../src/services/auth/login-record.ts';
import worker from '../../src/index.ts';
import {
  auditRows,
  claimsOf,
  createPlatformAdmin,
  loginAs,
  platformAuditRows,
  poll,
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
  roundTrips,
  TEST_PASSWORD,
  type TestTenant,
  policyHash,
} from '../support/harness.ts';
import { consume, queueWorld, recordingQueue, type QueueWorld } from '../support/webhooks.ts';

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

async function lastLoginAt(tenant: TestTenant, userId: string): Promise<Date | null | undefined> {
  const [membership] = await database()
    .select({ lastLoginAt: memberships.lastLoginAt })
    .from(memberships)
    .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, userId)));
  return membership?.lastLoginAt;
}

/** Waits for the account's password to be stored with the policy's parameters (a rehash runs after the response). */
function rehashedRow(email: string) {
  return poll(async () => {
    const row = await userRow(email);
    return policyHash().test(row.passwordHash ?? '') ? row : undefined;
  }, `the password of ${email} rehashed`);
}

function login(tenant: TestTenant | null, email: string, password: string, headers: Record<string, string> = {}) {
  const url = tenant ? tenant.url('/api/v1/auth/login') : 'http://localhost/api/v1/auth/login';
  return post(url, { email, password }, headers);
}

describe('POST /api/v1/auth/login', () => {
  it('signs a member in with a new session carrying the role, and records the login', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    // A first request makes the host known to this isolate (the tenant lookup is not the sign-in's to pay).
    expect((await login(tenant, randomEmail(tenant), TEST_PASSWORD)).status).toBe(401);
    const requestId = newRequestId();
    const ip = randomIp();
    const response = await post(
      tenant.url('/api/v1/auth/login'),
      { email: member.email.toUpperCase(), password: TEST_PASSWORD },
      { 'x-request-id': requestId, 'user-agent': 'sign-in-test/1.0' },
      ip,
    );
    expect(response.status).toBe(200);
    // One database round trip (read the account, store the session) and one Redis round trip (the limits).
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
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
    expect(family).toMatchObject({
      userId: member.userId,
      familyId: claims.sid,
      parentId: null,
      usedAt: null,
      revokedAt: null,
      ip,
      userAgent: 'sign-in-test/1.0',
    });
    // The audit row and the last-login time arrive after the response (AUDIT_QUEUE), as of the sign-in.
    const [audit, ...more] = await waitForAudits(tenant.organization.id, 'auth.login');
    expect(more).toEqual([]);
    expect(audit).toMatchObject({
      actorType: 'user',
      actorUserId: member.userId,
      targetType: 'user',
      targetId: member.userId,
      ip,
      userAgent: 'sign-in-test/1.0',
      requestId: response.headers.get('x-request-id'),
      correlationId: requestId,
      createdAt: family?.createdAt,
    });
    expect(audit?.metadata).toEqual({ sessionId: claims.sid, rehashed: false });
    expect(await lastLoginAt(tenant, member.userId)).toEqual(family?.createdAt);
    expect(Math.abs((family?.createdAt.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);
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
    // The wrong password's session row (stored with the read, its token never revealed) left with its audit row;
    // nothing was stored for the others.
    for (const userId of [member.userId, disabled.userId, invited.userId, outsider.userId]) {
      expect(await database().select().from(refreshTokens).where(eq(refreshTokens.userId, userId))).toEqual([]);
    }
    expect(await lastLoginAt(tenant, member.userId)).toBeNull();
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
    // Written after the response, then the sign-in's audit row that reports it.
    const rehashed = await rehashedRow(member.email);
    const [audit] = await waitForAudits(tenant.organization.id, 'auth.login');
    expect(audit?.metadata).toMatchObject({ rehashed: true });
    expect(audit?.createdAt.getTime()).toBeLessThan(rehashed.updatedAt.getTime());
    // Off the sign-in's own round trips: the rehash is the one database round trip after the response.
    await setPasswordHash(member.userId, weakHash(TEST_PASSWORD));
    const requestId = newRequestId();
    const again = await login(tenant, member.email, TEST_PASSWORD, { 'x-request-id': requestId });
    expect(again.status).toBe(200);
    await waitForAudits(tenant.organization.id, 'auth.login', 2);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(await roundTrips(`${requestId}.after-response`)).toEqual({ database: 1, redis: 1 });
    const rehashedAgain = await rehashedRow(member.email);
    await loginAs(tenant, member);
    const [third] = await waitForAudits(tenant.organization.id, 'auth.login', 3);
    expect(third?.metadata).toMatchObject({ rehashed: false });
    expect((await userRow(member.email)).passwordHash).toBe(rehashedAgain.passwordHash);
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
    const requestId = newRequestId();
    const response = await login(null, admin.email, admin.password, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
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
    const [audit, ...more] = await waitForPlatformAudits(admin.userId, 'auth.login');
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
    await rehashedRow(admin.email);
    const [audit] = await waitForPlatformAudits(admin.userId, 'auth.login');
    expect(audit?.metadata).toMatchObject({ rehashed: true });
  });
});

describe('the sign-in record after the response (AUDIT_QUEUE)', () => {
  /** A sign-in through the Worker with `world`'s bindings, waiting for its after-response work. */
  async function signIn(world: QueueWorld, tenant: TestTenant, email: string, password: string, requestId: string) {
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(tenant.url('/api/v1/auth/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'cf-connecting-ip': randomIp() },
        body: JSON.stringify({ email, password }),
      }),
      world.env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return response;
  }

  async function sessionRow(sessionId: string) {
    const [row] = await database().select().from(refreshTokens).where(eq(refreshTokens.familyId, sessionId));
    if (!row) throw new Error(`no session ${sessionId}`);
    return row;
  }

  it('writes one audit row per sign-in however often the message comes, and never moves the last login back', async () => {
    const world = queueWorld();
    const queue = recordingQueue();
    world.env.AUDIT_QUEUE = queue;
    const tenant = await createTenant();
    const member = await createMember(tenant, 'staff');
    const sessions: string[] = [];
    for (let i = 0; i < 2; i++) {
      const response = await signIn(world, tenant, member.email, TEST_PASSWORD, newRequestId());
      expect(response.status).toBe(200);
      sessions.push(String(claimsOf((await response.json<LoginResponse>()).accessToken).sid));
    }
    const [first, second, ...others] = queue.take(LOGIN_RECORD_MESSAGE);
    expect(others).toEqual([]);
    if (!first || !second) throw new Error('no sign-in records sent');
    expect(first).toMatchObject({ id: `auth.login_record:${sessions[0]}`, organizationId: tenant.organization.id });
    // Nothing is written until the message is consumed.
    expect(await auditRows(tenant.organization.id, 'auth.login')).toEqual([]);
    expect(await lastLoginAt(tenant, member.userId)).toBeNull();

    // The later sign-in's record first, then the earlier one twice in a batch and once more.
    expect(await consume(world, [second], 'eventra-audit-local')).toEqual([{ acked: true, retryDelay: null }]);
    expect(await consume(world, [first, first], 'eventra-audit-local')).toEqual([
      { acked: true, retryDelay: null },
      { acked: true, retryDelay: null },
    ]);
    expect(await consume(world, [first], 'eventra-audit-local')).toEqual([{ acked: true, retryDelay: null }]);

    const rows = await auditRows(tenant.organization.id, 'auth.login');
    const [earlier, later] = [await sessionRow(sessions[0] ?? ''), await sessionRow(sessions[1] ?? '')];
    expect(
      rows
        .map((row) => ({ sessionId: row.metadata.sessionId, createdAt: row.createdAt }))
        .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1)),
    ).toEqual([
      { sessionId: sessions[0], createdAt: earlier.createdAt },
      { sessionId: sessions[1], createdAt: later.createdAt },
    ]);
    expect(earlier.createdAt.getTime()).toBeLessThan(later.createdAt.getTime());
    expect(await lastLoginAt(tenant, member.userId)).toEqual(later.createdAt);

    // A malformed record never becomes valid: it is retried (and ends in the dead-letter queue), nothing written.
    const [malformed] = await consume(world, [{ ...first, payload: { sessionId: 'x' } }], 'eventra-audit-local');
    expect(malformed?.acked).toBe(false);
    expect(await auditRows(tenant.organization.id, 'auth.login')).toHaveLength(2);
  });

  it('writes the record directly when the queue refuses it, still off the sign-in round trips', async () => {
    const world = queueWorld();
    world.env.AUDIT_QUEUE = {
      send: () => Promise.reject(new Error('queue unavailable')),
      sendBatch: () => Promise.reject(new Error('queue unavailable')),
    };
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    expect((await signIn(world, tenant, randomEmail(tenant), TEST_PASSWORD, newRequestId())).status).toBe(401);
    const requestId = newRequestId();
    const response = await signIn(world, tenant, member.email, TEST_PASSWORD, requestId);
    expect(response.status).toBe(200);
    const sessionId = String(claimsOf((await response.json<LoginResponse>()).accessToken).sid);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    // After the response: the record (database) and the limit's give-back (Redis).
    expect(await roundTrips(`${requestId}.after-response`)).toEqual({ database: 1, redis: 1 });
    const session = await sessionRow(sessionId);
    const [audit, ...more] = await auditRows(tenant.organization.id, 'auth.login');
    expect(more).toEqual([]);
    expect(audit).toMatchObject({
      actorType: 'user',
      actorUserId: member.userId,
      correlationId: requestId,
      createdAt: session.createdAt,
      metadata: { sessionId, rehashed: false },
    });
    expect(await lastLoginAt(tenant, member.userId)).toEqual(session.createdAt);
  });
});
