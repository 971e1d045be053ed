import { sql } from 'drizzle-orm';
import { describe, expect, inject, it } from 'vitest';
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
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';
import { addPasskey, authenticatorFor, PASSKEYS_PATH, signInOptions } from '../support/webauthn.ts';
import { call, memberWithToken } from '../support/users.ts';

/*
 * SSO email domains: ownership proved by a TXT record (DNS over HTTPS, answered by the tests' fake resolver),
 * home-realm discovery, and SSO enforced at password sign-in (owners excepted).
 */

const fake = () => inject('fakeCloudflareUrl');

async function publishTxt(name: string, data: string): Promise<void> {
  const response = await fetch(`${fake()}/__dns`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, type: 'TXT', data, ttl: 60 }),
  });
  expect(response.ok).toBe(true);
}

interface DomainBody {
  id: string;
  domain: string;
  verified: boolean;
  enforce: boolean;
  record: { name: string; value: string };
}

async function setup() {
  const tenant = await createTenant({ plan: 'enterprise' });
  const { token } = await memberWithToken(tenant, 'owner');
  const created = await call(tenant, 'POST', '/api/v1/sso/connections', {
    token,
    body: {
      type: 'oidc',
      name: 'Acme IdP',
      defaultRole: 'staff',
      oidc: { issuer: 'https://login.example.com', clientId: 'eventra' },
    },
  });
  expect(created.status).toBe(201);
  const connectionId = (await created.json<{ id: string }>()).id;
  const domain = `sso-${tenant.organization.slug}.com`;
  const added = await call(tenant, 'POST', '/api/v1/sso/domains', {
    token,
    body: { domain: domain.toUpperCase(), connectionId },
  });
  expect(added.status, await added.clone().text()).toBe(201);
  const body = await added.json<DomainBody>();
  expect(added.headers.get('location')).toBe(tenant.url(`/api/v1/sso/domains/${body.id}`));
  return { tenant, token, connectionId, domain, body };
}

async function verifyAndEnforce(s: Awaited<ReturnType<typeof setup>>) {
  await publishTxt(s.body.record.name, s.body.record.value);
  const verified = await call(s.tenant, 'POST', `/api/v1/sso/domains/${s.body.id}/verify`, { token: s.token });
  expect(verified.status, await verified.clone().text()).toBe(200);
  const enforced = await call(s.tenant, 'PATCH', `/api/v1/sso/domains/${s.body.id}`, {
    token: s.token,
    body: { enforce: true },
  });
  expect(enforced.status).toBe(200);
}

function login(tenant: TestTenant, email: string, password: string, headers: Record<string, string> = {}) {
  return call(tenant, 'POST', '/api/v1/auth/login', { body: { email, password }, headers });
}

describe('SSO domains', () => {
  it('verifies a domain by its TXT record, and enforces SSO only once verified', async () => {
    const s = await setup();
    expect(s.body).toMatchObject({ domain: s.domain, verified: false, enforce: false });
    expect(s.body.record.name).toBe(`_eventra-sso.${s.domain}`);
    expect(s.body.record.value).toMatch(/^eventra-sso-verification=[A-Za-z0-9_-]{43}$/);

    // Not verified yet: no record, and enforcing is refused.
    const early = await call(s.tenant, 'POST', `/api/v1/sso/domains/${s.body.id}/verify`, { token: s.token });
    expect(early.status).toBe(422);
    const enforceEarly = await call(s.tenant, 'PATCH', `/api/v1/sso/domains/${s.body.id}`, {
      token: s.token,
      body: { enforce: true },
    });
    expect(enforceEarly.status).toBe(422);
    // A wrong value does not verify it either.
    await publishTxt(s.body.record.name, 'eventra-sso-verification=wrong');
    expect((await call(s.tenant, 'POST', `/api/v1/sso/domains/${s.body.id}/verify`, { token: s.token })).status).toBe(
      422,
    );

    await verifyAndEnforce(s);
    const listed = await call(s.tenant, 'GET', '/api/v1/sso/domains', { token: s.token });
    const { items } = await listed.json<{ items: DomainBody[] }>();
    expect(items.map((item) => [item.domain, item.verified, item.enforce])).toEqual([[s.domain, true, true]]);

    // The same domain twice, a connection of another organization, a name that is not a public host name.
    expect(
      (
        await call(s.tenant, 'POST', '/api/v1/sso/domains', {
          token: s.token,
          body: { domain: s.domain, connectionId: s.connectionId },
        })
      ).status,
    ).toBe(409);
    const other = await setup();
    const foreign = await call(s.tenant, 'POST', '/api/v1/sso/domains', {
      token: s.token,
      body: { domain: `x-${s.domain}`, connectionId: other.connectionId },
    });
    expect(foreign.status).toBe(400);
    expect((await problem(foreign)).errors?.[0]?.pointer).toBe('/body/connectionId');
    for (const domain of ['localhost', 'acme.test', 'not a domain', `a.${'b'.repeat(250)}.com`]) {
      const refused = await call(s.tenant, 'POST', '/api/v1/sso/domains', {
        token: s.token,
        body: { domain, connectionId: s.connectionId },
      });
      expect(refused.status, domain).toBe(400);
    }
    // Another organization's domain is not found here.
    expect((await call(s.tenant, 'GET', `/api/v1/sso/domains/${other.body.id}`, { token: s.token })).status).toBe(404);
    expect((await call(s.tenant, 'DELETE', `/api/v1/sso/domains/${other.body.id}`, { token: s.token })).status).toBe(
      404,
    );

    const audits = await database().execute<{ action: string }>(
      sql`select action from audit_logs where organization_id = ${s.tenant.organization.id}
            and action like 'sso_domain.%' order by created_at`,
    );
    expect(audits.rows.map((row) => row.action)).toEqual([
      'sso_domain.added',
      'sso_domain.verified',
      'sso_domain.updated',
    ]);
  });

  it('tells an app which connection an address signs in with, by its domain only', async () => {
    const s = await setup();
    const discover = (email: string, headers: Record<string, string> = {}) =>
      call(s.tenant, 'POST', '/api/v1/sso/discover', { body: { email }, headers });
    // Unverified: not offered yet.
    expect((await discover(`ada@${s.domain}`)).status).toBe(404);
    await verifyAndEnforce(s);
    const requestId = newRequestId();
    const found = await discover(`Ada@${s.domain.toUpperCase()}`, { 'x-request-id': requestId });
    expect(found.status).toBe(200);
    expect(await found.json()).toEqual({
      connectionId: s.connectionId,
      name: 'Acme IdP',
      type: 'oidc',
      enforced: true,
    });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect((await discover('ada@elsewhere.com')).status).toBe(404);
  });

  it('refuses password sign-in where SSO is enforced, the same for unknown addresses, except to owners', async () => {
    const s = await setup();
    const staff = await createMember(s.tenant, 'staff', {
      email: `staff-${crypto.randomUUID().slice(0, 8)}@${s.domain}`,
    });
    const owner = await createMember(s.tenant, 'owner', {
      email: `owner-${crypto.randomUUID().slice(0, 8)}@${s.domain}`,
    });
    // Before enforcement a password works.
    expect((await login(s.tenant, staff.email, staff.password)).status).toBe(200);
    await verifyAndEnforce(s);

    const requestId = newRequestId();
    const refused = await login(s.tenant, staff.email, staff.password, { 'x-request-id': requestId });
    expect(refused.status).toBe(403);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const expected = (await answerText(refused.clone())).replace(staff.email, '');
    const body = await problem(refused);
    expect(body.type).toBe('https://eventra.app/problems/sso-required');
    expect((body as unknown as { connectionId: string }).connectionId).toBe(s.connectionId);
    // A wrong password and an unknown address on that domain get the same answer: nothing tells them apart.
    const wrong = await login(s.tenant, staff.email, 'not-the-password-1');
    const unknown = await login(s.tenant, `nobody-${crypto.randomUUID().slice(0, 8)}@${s.domain}`, staff.password);
    for (const response of [wrong, unknown]) {
      expect(response.status).toBe(403);
      expect((await answerText(response)).replace(staff.email, '')).toBe(expected);
    }
    // No session was left behind for the refused member (the one of the sign-in before enforcement only).
    const families = await database().execute(
      sql`select distinct family_id from refresh_tokens where user_id = ${staff.userId}`,
    );
    expect(families.rows.length).toBe(1);

    // The owner's password still works (the break-glass way in); a wrong one does not.
    expect((await login(s.tenant, owner.email, owner.password)).status).toBe(200);
    expect((await login(s.tenant, owner.email, 'not-the-password-1')).status).toBe(403);

    // Enforcement off again: the password works.
    await call(s.tenant, 'PATCH', `/api/v1/sso/domains/${s.body.id}`, { token: s.token, body: { enforce: false } });
    expect((await login(s.tenant, staff.email, staff.password)).status).toBe(200);
  });

  it('enforces nothing once the plan has no SSO', async () => {
    const s = await setup();
    const staff = await createMember(s.tenant, 'staff', {
      email: `staff-${crypto.randomUUID().slice(0, 8)}@${s.domain}`,
    });
    await verifyAndEnforce(s);
    expect((await login(s.tenant, staff.email, staff.password)).status).toBe(403);
    // The platform's downgrade (as billing's dunning or an administrator does it), which purges the cached hosts.
    const admin = await createPlatformAdmin();
    const downgrade = await request(`${PLATFORM}/api/v1/organizations/${s.tenant.organization.id}`, {
      method: 'PUT',
      headers: bearer(admin.token),
      body: JSON.stringify({ plan: 'pro' }),
    });
    expect(downgrade.status).toBe(200);
    expect((await login(s.tenant, staff.email, staff.password)).status).toBe(200);
  });
});

describe('SSO enforcement and passkeys', () => {
  it('refuses a passkey sign-in where SSO is enforced, except to owners', async () => {
    const s = await setup();
    const staff = await createMember(s.tenant, 'staff', {
      email: `staff-${crypto.randomUUID().slice(0, 8)}@${s.domain}`,
    });
    const owner = await createMember(s.tenant, 'owner', {
      email: `owner-${crypto.randomUUID().slice(0, 8)}@${s.domain}`,
    });
    const keys = new Map<string, Awaited<ReturnType<typeof authenticatorFor>>>();
    for (const member of [staff, owner]) {
      const authenticator = await authenticatorFor(s.tenant);
      await addPasskey(s.tenant, await tokenFor(s.tenant, member), authenticator);
      keys.set(member.userId, authenticator);
    }
    const signIn = async (userId: string) => {
      const authenticator = keys.get(userId);
      if (authenticator === undefined) throw new Error('no authenticator');
      const response = await authenticator.authenticate(await signInOptions(s.tenant));
      return call(s.tenant, 'POST', `${PASSKEYS_PATH}/sign-in`, { body: { response } });
    };
    expect((await signIn(staff.userId)).status).toBe(200);
    await verifyAndEnforce(s);
    const refused = await signIn(staff.userId);
    expect(refused.status).toBe(403);
    expect((await problem(refused)).type).toBe('https://eventra.app/problems/sso-required');
    expect((await signIn(owner.userId)).status).toBe(200);
  });
});
