import { and, eq, isNull, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, impersonations, users } from '../../src/db/schema/index.ts';
import { requireRecentAuth } from '../../src/middleware/auth.ts';
import { issueAccessToken, PLATFORM_TENANT } from '../../src/services/auth/tokens.ts';
import { bindings, claimsOf, randomIp, waitForMail } from '../support/auth.ts';
import { PLATFORM } from '../support/organizations.ts';
import {
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  tokenFor,
  type TestMember,
  type TestTenant,
} from '../support/harness.ts';
import { createPlatformAdmin, platformCall as platform, platformToken } from '../support/organizations.ts';
import { createEvent } from '../support/catalogue.ts';
import { dataOf, openStream } from '../support/live.ts';
import { call } from '../support/users.ts';

// Issue #16 part 1: support impersonation, started and ended on the platform host, used read-only on the
// organization's host, visible to the organization.

interface Impersonation {
  id: string;
  organizationId: string;
  user: { id: string; email: string | null; name: string | null };
  impersonator: { id: string | null; email: string };
  reason: string;
  mode: string;
  status: string;
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
}

interface Started {
  impersonation: Impersonation;
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  refreshToken?: string;
}

const REASON = 'Support #4711: the checkout page fails';

/** An organization with its owner and an organizer (the member support acts as), and a platform administrator. */
async function scene() {
  const tenant = await createTenant();
  const owner = await createMember(tenant, 'owner');
  const member = await createMember(tenant, 'organizer');
  const admin = await createPlatformAdmin();
  return { tenant, owner, member, admin };
}

async function start(
  admin: { token: string },
  tenant: TestTenant,
  member: Pick<TestMember, 'userId'>,
  extra: Record<string, unknown> = {},
): Promise<Started> {
  const response = await platform('/api/v1/platform/impersonations', admin.token, {
    method: 'POST',
    body: { organizationId: tenant.organization.id, userId: member.userId, reason: REASON, ...extra },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  const started = await response.json<Started>();
  expect(response.headers.get('location')).toBe(
    `${PLATFORM}/api/v1/platform/impersonations/${started.impersonation.id}`,
  );
  return started;
}

async function listOf(tenant: TestTenant, owner: TestMember): Promise<Impersonation[]> {
  const response = await call(tenant, 'GET', '/api/v1/impersonations', { token: await tokenFor(tenant, owner) });
  expect(response.status).toBe(200);
  return (await response.json<{ data: Impersonation[] }>()).data;
}

function tenantAudits(organizationId: string, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, organizationId), eq(auditLogs.action, action)));
}

function platformAudits(impersonationId: string, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(
      and(
        isNull(auditLogs.organizationId),
        eq(auditLogs.action, action),
        sql`${auditLogs.metadata}->>'impersonationId' = ${impersonationId}`,
      ),
    );
}

/**
 * A token of an impersonation signed with the Worker's keys, as the start would sign it but for `expiresAt` (seconds),
 * the issue time (ms) and the id its `imp` claim names (`claimedId`, by default the session's).
 */
async function impersonationToken(
  of: { tenant: TestTenant; member: TestMember; admin: { userId: string }; id: string },
  options: { expiresAt: number; issuedAt?: number; claimedId?: string },
): Promise<string> {
  const { token } = await issueAccessToken(
    bindings().JWT_SIGNING_KEYS,
    bindings().ROOT_DOMAIN,
    {
      userId: of.member.userId,
      tenant: of.tenant.organization.id,
      sessionId: of.id,
      role: 'organizer',
      permissions: ['events:read', 'bookings:read'],
      emailVerified: true,
      impersonation: {
        id: options.claimedId ?? of.id,
        actorUserId: of.admin.userId,
        mode: 'read_only',
        expiresAt: options.expiresAt,
      },
    },
    options.issuedAt,
  );
  return token;
}

describe('starting an impersonation', () => {
  it('answers a read-only, never-refreshed token naming the administrator, audited in both logs, with an email', async () => {
    const { tenant, owner, member, admin } = await scene();
    const started = await start(admin, tenant, member);
    const { impersonation } = started;
    expect(impersonation).toMatchObject({
      organizationId: tenant.organization.id,
      user: { id: member.userId, email: member.email },
      impersonator: { id: admin.userId, email: admin.email },
      reason: REASON,
      mode: 'read_only',
      status: 'active',
      endedAt: null,
    });
    expect(started.tokenType).toBe('Bearer');
    expect(started.refreshToken).toBeUndefined();
    expect(started.expiresIn).toBeGreaterThan(14 * 60);
    expect(started.expiresIn).toBeLessThanOrEqual(15 * 60);
    expect(Date.parse(impersonation.expiresAt) - Date.parse(impersonation.createdAt)).toBe(15 * 60 * 1000);

    const claims = claimsOf(started.accessToken);
    expect(claims).toMatchObject({
      sub: member.userId,
      org: tenant.organization.id,
      sid: impersonation.id,
      act: { sub: admin.userId },
      imp: { id: impersonation.id, mode: 'read_only' },
    });
    expect(claims['exp']).toBe(Math.floor(Date.parse(impersonation.expiresAt) / 1000));

    // Both audit logs, the administrator as actor, with the reason.
    const [tenantRow] = await tenantAudits(tenant.organization.id, 'impersonation.started');
    expect(tenantRow).toMatchObject({
      actorType: 'platform_admin',
      actorUserId: admin.userId,
      targetType: 'user',
      targetId: member.userId,
    });
    expect(tenantRow?.metadata).toMatchObject({ reason: REASON, mode: 'read_only', impersonationId: impersonation.id });
    const [platformRow] = await platformAudits(impersonation.id, 'impersonation.started');
    expect(platformRow).toMatchObject({
      actorType: 'platform_admin',
      actorUserId: admin.userId,
      targetId: member.userId,
    });
    expect(platformRow?.metadata).toMatchObject({ reason: REASON, organizationId: tenant.organization.id });

    // The platform reads it where its Location says (never the token); the organization lists it; the member is told.
    const read = await platform(`/api/v1/platform/impersonations/${impersonation.id}`, admin.token);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(impersonation);
    expect(
      (
        await platform(
          `/api/v1/platform/impersonations/${impersonation.id}`,
          await platformToken(admin.userId, 'support'),
        )
      ).status,
    ).toBe(403);
    expect((await platform(`/api/v1/platform/impersonations/${crypto.randomUUID()}`, admin.token)).status).toBe(404);
    const [listed] = await listOf(tenant, owner);
    expect(listed).toEqual(impersonation);
    const mail = await waitForMail(member.email);
    expect(mail.subject).toContain('Support is viewing your');
    expect(mail.text).toContain(REASON);
  });

  it('refuses anyone but a platform administrator with a recent sign-in, on the platform host', async () => {
    const { tenant, owner, member, admin } = await scene();
    const body = { organizationId: tenant.organization.id, userId: member.userId, reason: REASON };
    const post = (token: string) => platform('/api/v1/platform/impersonations', token, { method: 'POST', body });

    expect((await post(await platformToken(admin.userId, 'support'))).status).toBe(403);
    const onTenantHost = await call(tenant, 'POST', '/api/v1/platform/impersonations', {
      token: await tokenFor(tenant, owner),
      body,
    });
    expect(onTenantHost.status).toBe(404);
    // A platform administrator no longer so in the database (the token still says so).
    const demoted = await createPlatformAdmin();
    await database().update(users).set({ isPlatformAdmin: false }).where(eq(users.id, demoted.userId));
    const refused = await post(demoted.token);
    expect(refused.status).toBe(403);
    // Step-up: a sign-in older than ten minutes.
    const { token: stale } = await issueAccessToken(bindings().JWT_SIGNING_KEYS, bindings().ROOT_DOMAIN, {
      userId: admin.userId,
      tenant: PLATFORM_TENANT,
      sessionId: crypto.randomUUID(),
      role: 'platform_admin',
      permissions: [],
      emailVerified: true,
      authTime: Math.floor(Date.now() / 1000) - 11 * 60,
    });
    const stepUp = await post(stale);
    expect(stepUp.status).toBe(401);
    expect((await problem(stepUp)).code).toBe('reauthentication_required');
    expect((await post('not-a-token')).status).toBe(401);

    // None of them started anything.
    const rows = await database()
      .select()
      .from(impersonations)
      .where(eq(impersonations.organizationId, tenant.organization.id));
    expect(rows).toEqual([]);
  });

  it('requires a reason of 10 to 500 characters, at most 60 minutes and the read-only mode', async () => {
    const { tenant, member, admin } = await scene();
    const base = { organizationId: tenant.organization.id, userId: member.userId };
    for (const body of [
      base,
      { ...base, reason: 'too short' },
      { ...base, reason: '          padded   ' },
      { ...base, reason: 'x'.repeat(501) },
      { ...base, reason: REASON, durationMinutes: 61 },
      { ...base, reason: REASON, durationMinutes: 0 },
      { ...base, reason: REASON, mode: 'read_write' },
      { ...base, reason: REASON, extra: true },
    ]) {
      const response = await platform('/api/v1/platform/impersonations', admin.token, { method: 'POST', body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await problem(response)).code).toBe('validation_failed');
    }
    const longest = await start(admin, tenant, member, { durationMinutes: 60 });
    expect(longest.expiresIn).toBeGreaterThan(59 * 60);
    expect(longest.expiresIn).toBeLessThanOrEqual(60 * 60);
  });

  it('answers 404 for a member of another organization, an inactive one, and 403 for a platform administrator', async () => {
    const { tenant, admin } = await scene();
    const other = await createTenant();
    const stranger = await createMember(other, 'organizer');
    const disabled = await createMember(tenant, 'organizer', { status: 'disabled' });
    const send = (userId: string) =>
      platform('/api/v1/platform/impersonations', admin.token, {
        method: 'POST',
        body: { organizationId: tenant.organization.id, userId, reason: REASON },
      });
    expect((await send(stranger.userId)).status).toBe(404);
    expect((await send(disabled.userId)).status).toBe(404);
    expect((await send(crypto.randomUUID())).status).toBe(404);
    const colleague = await createMember(tenant, 'organizer');
    await database().update(users).set({ isPlatformAdmin: true }).where(eq(users.id, colleague.userId));
    expect((await send(colleague.userId)).status).toBe(403);
    expect((await send(admin.userId)).status).toBe(403);
  });
});

describe('using an impersonation token', () => {
  // Every route with step-up is a write (refused to the token before) or on the platform host (another tenant), so
  // the step-up guard's own refusal, the defence behind them, is checked on the guard itself.
  it('is refused by the step-up guard whatever its auth_time', async () => {
    const principal = {
      credential: 'session',
      authTime: Math.floor(Date.now() / 1000),
      impersonation: { id: crypto.randomUUID(), actorUserId: crypto.randomUUID(), mode: 'read_only', expiresAt: 0 },
    };
    let reached = false;
    const guard = requireRecentAuth()({ var: { principal } } as never, () => {
      reached = true;
      return Promise.resolve();
    });
    await expect(guard).rejects.toMatchObject({ code: 'impersonation_forbidden', status: 403 });
    expect(reached).toBe(false);
  });

  it("reads with the member's permissions at the round trips of an ordinary token", async () => {
    const { tenant, member, admin } = await scene();
    const { accessToken } = await start(admin, tenant, member);

    const me = await call(tenant, 'GET', '/api/v1/auth/me', { token: accessToken });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { id: member.userId } });

    const impersonated = newRequestId();
    const read = await call(tenant, 'GET', '/api/v1/events', {
      token: accessToken,
      headers: { 'x-request-id': impersonated },
    });
    expect(read.status).toBe(200);
    const ordinary = newRequestId();
    const same = await call(tenant, 'GET', '/api/v1/events', {
      token: await tokenFor(tenant, member),
      headers: { 'x-request-id': ordinary },
    });
    expect(same.status).toBe(200);
    expect(await roundTrips(impersonated)).toEqual(await roundTrips(ordinary));
    expect(await roundTrips(impersonated)).toEqual({ database: 1, redis: 1 });

    // Nothing beyond the member's role: an organizer has no audit:read.
    expect((await call(tenant, 'GET', '/api/v1/audit-logs', { token: accessToken })).status).toBe(403);
  });

  it('refuses every write with 403 impersonation_read_only and changes nothing', async () => {
    const { tenant, member, admin } = await scene();
    const { accessToken } = await start(admin, tenant, member);
    const attempts: [string, string, unknown][] = [
      ['POST', '/api/v1/events', { title: 'Written by support', startsAt: '2030-01-01T10:00:00Z' }],
      ['PATCH', '/api/v1/auth/me', { name: 'Changed by support' }],
      ['POST', '/api/v1/auth/logout', {}],
      ['POST', '/api/v1/api-keys', { name: 'support key', environment: 'live', permissions: ['events:read'] }],
      ['POST', '/api/v1/graphql', { query: '{ __typename }' }],
    ];
    for (const [method, path, body] of attempts) {
      const response = await call(tenant, method, path, { token: accessToken, body });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect((await problem(response)).code, `${method} ${path}`).toBe('impersonation_read_only');
    }
    const events = await call(tenant, 'GET', '/api/v1/events', { token: accessToken });
    expect((await events.json<{ data: unknown[] }>()).data).toEqual([]);
    const [account] = await database().select({ name: users.name }).from(users).where(eq(users.id, member.userId));
    expect(account?.name).not.toBe('Changed by support');
    // The token still works: logout was refused, not performed.
    expect((await call(tenant, 'GET', '/api/v1/auth/me', { token: accessToken })).status).toBe(200);
  });

  it("refuses the member's own endpoints even to read (sessions, MFA, passkeys, data export)", async () => {
    const { tenant, member, admin } = await scene();
    const { accessToken } = await start(admin, tenant, member);
    for (const path of [
      '/api/v1/auth/sessions',
      '/api/v1/auth/mfa',
      '/api/v1/auth/passkeys',
      '/api/v1/auth/me/export',
    ]) {
      const response = await call(tenant, 'GET', path, { token: accessToken });
      expect(response.status, path).toBe(403);
      expect((await problem(response)).code, path).toBe('impersonation_forbidden');
    }
  });

  it('attributes what its reads record (an attendee export) to the member with the administrator beside them', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const member = await createMember(tenant, 'organizer');
    const admin = await createPlatformAdmin();
    const event = await createEvent(tenant);
    const { accessToken, impersonation } = await start(admin, tenant, member);
    const exported = await call(tenant, 'GET', `/api/v1/events/${event.id}/attendees/export`, { token: accessToken });
    expect(exported.status).toBe(200);
    await exported.text();
    const [row] = await tenantAudits(tenant.organization.id, 'attendees.exported');
    expect(row).toMatchObject({ actorType: 'user', actorUserId: member.userId });
    expect(row?.metadata).toMatchObject({ impersonation: { id: impersonation.id, by: admin.userId } });
  });

  it("is a 401 on another organization's host and on the platform host", async () => {
    const { tenant, member, admin } = await scene();
    const other = await createTenant();
    const { accessToken } = await start(admin, tenant, member);
    expect((await call(other, 'GET', '/api/v1/events', { token: accessToken })).status).toBe(401);
    expect((await platform('/api/v1/platform/users', accessToken)).status).toBe(401);
  });

  it('stops at its expiry: the token expires and the list shows it expired', async () => {
    const { tenant, owner, member, admin } = await scene();
    const { impersonation } = await start(admin, tenant, member, { durationMinutes: 1 });
    // A token of the same impersonation issued 20 minutes ago for 15 minutes: expired.
    const issued = Date.now() - 20 * 60 * 1000;
    const lapsed = await impersonationToken(
      { tenant, member, admin, id: impersonation.id },
      { expiresAt: Math.floor(issued / 1000) + 15 * 60, issuedAt: issued },
    );
    const refused = await call(tenant, 'GET', '/api/v1/events', { token: lapsed });
    expect(refused.status).toBe(401);
    expect((await problem(refused)).detail).toContain('expired');

    await database()
      .update(impersonations)
      .set({ createdAt: new Date(issued), expiresAt: new Date(issued + 60_000) })
      .where(eq(impersonations.id, impersonation.id));
    const [listed] = await listOf(tenant, owner);
    expect(listed).toMatchObject({ id: impersonation.id, status: 'expired', endedAt: null });
    // Ending an expired one changes nothing and writes no audit row.
    expect(
      (await platform(`/api/v1/platform/impersonations/${impersonation.id}`, admin.token, { method: 'DELETE' })).status,
    ).toBe(204);
    expect(await tenantAudits(tenant.organization.id, 'impersonation.ended')).toEqual([]);
  });

  it('ends a live stream when the impersonation ends by itself', async () => {
    const { tenant, member, admin } = await scene();
    const event = await createEvent(tenant);
    const { impersonation } = await start(admin, tenant, member);
    // The same impersonation's token, two seconds from its end (streams re-check every second in the tests).
    const token = await impersonationToken(
      { tenant, member, admin, id: impersonation.id },
      { expiresAt: Math.floor(Date.now() / 1000) + 2 },
    );
    const live = await openStream(tenant.url(`/api/v1/events/${event.id}/live/bookings`), {
      authorization: `Bearer ${token}`,
    });
    try {
      expect(live.response.status).toBe(200);
      const end = await live.next((message) => message.event === 'end', 6_000);
      expect(dataOf(end)).toEqual({ reason: 'session_ended' });
      await live.ended;
    } finally {
      await live.close();
    }
  });

  it('refuses a token that claims a longer life than an impersonation has, or malformed impersonation claims', async () => {
    const { tenant, member, admin } = await scene();
    const { impersonation } = await start(admin, tenant, member);
    const now = Math.floor(Date.now() / 1000);
    const forge = (expiresAt: number, id = impersonation.id) =>
      impersonationToken({ tenant, member, admin, id: impersonation.id }, { expiresAt, claimedId: id });
    expect((await call(tenant, 'GET', '/api/v1/events', { token: await forge(now + 61 * 60) })).status).toBe(401);
    expect(
      (await call(tenant, 'GET', '/api/v1/events', { token: await forge(now + 60, crypto.randomUUID()) })).status,
    ).toBe(401);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: await forge(now + 60) })).status).toBe(200);
  });
});

describe('ending an impersonation', () => {
  it('from the platform host: the token is refused at once, audited in both logs, listed as ended', async () => {
    const { tenant, owner, member, admin } = await scene();
    const { impersonation, accessToken } = await start(admin, tenant, member);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: accessToken })).status).toBe(200);

    const requestId = newRequestId();
    const ended = await request(`${PLATFORM}/api/v1/platform/impersonations/${impersonation.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin.token}`, 'x-request-id': requestId, 'cf-connecting-ip': randomIp() },
    });
    expect(ended.status).toBe(204);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 2 });
    const after = await call(tenant, 'GET', '/api/v1/events', { token: accessToken });
    expect(after.status).toBe(401);
    expect((await problem(after)).detail).toBe('The session has ended.');

    const [tenantRow] = await tenantAudits(tenant.organization.id, 'impersonation.ended');
    expect(tenantRow).toMatchObject({
      actorType: 'platform_admin',
      actorUserId: admin.userId,
      targetId: member.userId,
    });
    expect(await platformAudits(impersonation.id, 'impersonation.ended')).toHaveLength(1);
    const [listed] = await listOf(tenant, owner);
    expect(listed).toMatchObject({ id: impersonation.id, status: 'ended' });
    expect(listed?.endedAt).not.toBeNull();

    // Again: 204, nothing more written. An unknown id: 404.
    const again = await platform(`/api/v1/platform/impersonations/${impersonation.id}`, admin.token, {
      method: 'DELETE',
    });
    expect(again.status).toBe(204);
    expect(await tenantAudits(tenant.organization.id, 'impersonation.ended')).toHaveLength(1);
    const unknown = await platform(`/api/v1/platform/impersonations/${crypto.randomUUID()}`, admin.token, {
      method: 'DELETE',
    });
    expect(unknown.status).toBe(404);
  });

  it("by the organization's owner only, and never another organization's", async () => {
    const { tenant, owner, member, admin } = await scene();
    const { impersonation, accessToken } = await start(admin, tenant, member);
    const other = await createTenant();
    const otherOwner = await createMember(other, 'owner');
    const path = `/api/v1/impersonations/${impersonation.id}`;

    const foreign = await call(other, 'DELETE', path, { token: await tokenFor(other, otherOwner) });
    expect(foreign.status).toBe(404);
    const tenantAdmin = await createMember(tenant, 'admin');
    const notOwner = await call(tenant, 'DELETE', path, { token: await tokenFor(tenant, tenantAdmin) });
    expect(notOwner.status).toBe(403);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: accessToken })).status).toBe(200);

    const ended = await call(tenant, 'DELETE', path, { token: await tokenFor(tenant, owner) });
    expect(ended.status).toBe(204);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: accessToken })).status).toBe(401);
    const [row] = await tenantAudits(tenant.organization.id, 'impersonation.ended');
    expect(row).toMatchObject({ actorType: 'user', actorUserId: owner.userId });
    expect(row?.metadata).toMatchObject({ endedBy: 'organization', impersonationId: impersonation.id });
    expect(await platformAudits(impersonation.id, 'impersonation.ended')).toHaveLength(1);
  });

  it("ends with the member's sessions when the member's role changes", async () => {
    const { tenant, owner, member, admin } = await scene();
    const { accessToken } = await start(admin, tenant, member);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: accessToken })).status).toBe(200);
    const changed = await call(tenant, 'PUT', `/api/v1/users/${member.userId}`, {
      token: await tokenFor(tenant, owner),
      body: { role: 'staff' },
    });
    expect(changed.status).toBe(200);
    // The role change revokes the member's tokens here (`revoked:before`), the impersonation's too.
    expect((await call(tenant, 'GET', '/api/v1/events', { token: accessToken })).status).toBe(401);
  });
});

describe('the organization’s list', () => {
  it('needs audit:read and shows only its own impersonations, newest first, by pages', async () => {
    const { tenant, owner, member, admin } = await scene();
    const other = await createTenant();
    const otherMember = await createMember(other, 'organizer');
    const first = await start(admin, tenant, member);
    const second = await start(admin, tenant, owner);
    await start(admin, other, otherMember);

    const staff = await createMember(tenant, 'staff');
    expect((await call(tenant, 'GET', '/api/v1/impersonations', { token: await tokenFor(tenant, staff) })).status).toBe(
      403,
    );
    const token = await tokenFor(tenant, owner);
    const page = await call(tenant, 'GET', '/api/v1/impersonations?limit=1', { token });
    expect(page.status).toBe(200);
    const body = await page.json<{ data: Impersonation[]; nextCursor: string | null }>();
    expect(body.data.map((row) => row.id)).toEqual([second.impersonation.id]);
    expect(body.nextCursor).not.toBeNull();
    const next = await call(tenant, 'GET', `/api/v1/impersonations?limit=1&cursor=${body.nextCursor ?? ''}`, { token });
    const rest = await next.json<{ data: Impersonation[]; nextCursor: string | null }>();
    expect(rest.data.map((row) => row.id)).toEqual([first.impersonation.id]);
    expect(rest.nextCursor).toBeNull();
    expect((await call(tenant, 'GET', '/api/v1/impersonations?cursor=bad!', { token })).status).toBe(400);
  });
});
