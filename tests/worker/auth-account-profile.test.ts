import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships } from '../../src/db/schema/index.ts';
import type { UpdateMeResponse } from '../../src/routes/auth/update-me.ts';
import { auditRows, loginAs, userRow } from '../support/auth.ts';
import {
  createMember,
  createTenant,
  database,
  newRequestId,
  otherDatabases,
  problem,
  request,
  roundTrips,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { call } from '../support/users.ts';

function patchMe(tenant: TestTenant, token: string, body: unknown, headers: Record<string, string> = {}) {
  return call(tenant, 'PATCH', '/api/v1/auth/me', { token, body, headers });
}

async function signedIn() {
  const tenant = await createTenant();
  const member = await createMember(tenant, 'organizer');
  const token = await tokenFor(tenant, member);
  // The host's first request resolves the tenant (cached in the isolate after): round trips are counted after it.
  expect((await call(tenant, 'GET', '/api/v1/auth/me', { token })).status).toBe(200);
  return { tenant, member, token };
}

describe('PATCH /api/v1/auth/me', () => {
  it('changes name, locale, time zone and preferences in one round trip each, and audits the fields', async () => {
    const { tenant, member, token } = await signedIn();
    const requestId = newRequestId();
    const response = await patchMe(
      tenant,
      token,
      { name: ' Ada King ', locale: 'fr-fr', timezone: 'europe/paris', preferences: { theme: 'dark' } },
      { 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    const body: UpdateMeResponse = await response.json();
    expect(body.user).toMatchObject({
      id: member.userId,
      name: 'Ada King',
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      preferences: { theme: 'dark' },
    });
    expect(body.role.key).toBe('organizer');
    // The change, and the account's copy on each dedicated database the Worker knows (none holds one here).
    expect(await roundTrips(requestId)).toEqual({ database: 1 + otherDatabases(), redis: 1 });
    expect(await userRow(member.email)).toMatchObject({
      name: 'Ada King',
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      preferences: { theme: 'dark' },
    });
    const [audit] = await auditRows(tenant.organization.id, 'user.profile_updated');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetType: 'user', targetId: member.userId });
    expect(audit?.metadata).toMatchObject({ fields: ['name', 'locale', 'timezone', 'preferences'] });
  });

  it('merges preferences key by key, removes a preference set to null and keeps absent fields', async () => {
    const { tenant, member, token } = await signedIn();
    expect((await patchMe(tenant, token, { preferences: { theme: 'dark', emailNotifications: false } })).status).toBe(
      200,
    );
    const response = await patchMe(tenant, token, { preferences: { theme: null } });
    expect(response.status).toBe(200);
    const body: UpdateMeResponse = await response.json();
    expect(body.user.preferences).toEqual({ emailNotifications: false });
    expect(body.user.timezone).toBe('UTC');
    const row = await userRow(member.email);
    expect(row.name).toBe(`organizer ${member.email.split('@')[0] ?? ''}`);
    expect(row.preferences).toEqual({ emailNotifications: false });
  });

  it('shows the change in GET /auth/me, in other organizations too (the account is global)', async () => {
    const { tenant, member, token } = await signedIn();
    const other = await createTenant();
    await createMember(other, 'member', { email: member.email });
    expect((await patchMe(tenant, token, { timezone: 'America/Port-au-Prince' })).status).toBe(200);
    const elsewhere = await loginAs(other, member);
    expect(elsewhere.user.timezone).toBe('America/Port-au-Prince');
  });

  it('answers an empty change with the user and writes nothing', async () => {
    const { tenant, token } = await signedIn();
    const requestId = newRequestId();
    const response = await patchMe(tenant, token, {}, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(await auditRows(tenant.organization.id, 'user.profile_updated')).toHaveLength(0);
  });

  it.each([
    ['an unknown time zone', { timezone: 'Mars/Olympus_Mons' }, '/body/timezone'],
    ['an offset instead of a zone', { timezone: '+05:30' }, '/body/timezone'],
    ['a malformed locale', { locale: 'english please' }, '/body/locale'],
    ['a locale Intl refuses', { locale: 'en-US-x' }, '/body/locale'],
    ['an empty name', { name: '   ' }, '/body/name'],
    ['a control character in the name', { name: 'Ada\u0007' }, '/body/name'],
    ['an unknown preference', { preferences: { fontSize: 12 } }, '/body/preferences'],
    ['a wrong theme', { preferences: { theme: 'pink' } }, '/body/preferences/theme'],
    ['a field that is not the user’s to set', { email: 'other@example.com' }, '/body'],
    ['the verification flag', { emailVerified: true }, '/body'],
  ])('refuses %s with 400 and changes nothing', async (_case, body, pointer) => {
    const { tenant, member, token } = await signedIn();
    const before = await userRow(member.email);
    const response = await patchMe(tenant, token, body);
    expect(response.status).toBe(400);
    const answer = await problem(response);
    expect(answer.code).toBe('validation_failed');
    expect(answer.errors?.map((error) => error.pointer).some((at) => at.startsWith(pointer))).toBe(true);
    expect(await userRow(member.email)).toEqual(before);
    expect(await auditRows(tenant.organization.id, 'user.profile_updated')).toHaveLength(0);
  });

  it('needs a signed-in user, and the organization host', async () => {
    const { tenant } = await signedIn();
    expect((await call(tenant, 'PATCH', '/api/v1/auth/me', { body: { name: 'X' } })).status).toBe(401);
    const platform = await request('http://localhost/api/v1/auth/me', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'X' }),
    });
    expect(platform.status).toBe(404);
  });

  it('answers 401 for a member removed since the token was issued (the session has ended)', async () => {
    const { tenant, member, token } = await signedIn();
    await database()
      .update(memberships)
      .set({ status: 'disabled' })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    const response = await patchMe(tenant, token, { name: 'Still here' });
    expect(response.status).toBe(401);
    expect((await userRow(member.email)).name).not.toBe('Still here');
  });
});
