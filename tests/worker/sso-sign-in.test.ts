import { sql } from 'drizzle-orm';
import * as oauth from 'oauth4webapi';
import { describe, expect, inject, it } from 'vitest';
import {
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { atIdp, idpAccount, registerIdpClient } from '../support/oidc.ts';
import { call, memberWithToken } from '../support/users.ts';

/*
 * Sign-in through an organization's OIDC connection against a real OpenID Provider (oidc-provider, started by the
 * global set-up): authorize, the IdP's login, the callback, the one-time code for the session.
 */

const ISSUER = inject('oidcIssuer');

interface Setup {
  tenant: TestTenant;
  token: string;
  connectionId: string;
  callbackUrl: string;
}

/** An enterprise organization with an OIDC connection to the test IdP (a client registered there by RFC 7591). */
async function setup(
  options: { jit?: boolean; roleMapping?: Record<string, string>; emailVerifiedClaim?: string } = {},
): Promise<Setup> {
  const tenant = await createTenant({ plan: 'enterprise' });
  const { token } = await memberWithToken(tenant, 'admin');
  const callbackUrl = tenant.url('/api/v1/sso/callback');
  const client = await registerIdpClient(ISSUER, callbackUrl);
  const created = await call(tenant, 'POST', '/api/v1/sso/connections', {
    token,
    body: {
      type: 'oidc',
      name: 'Test IdP',
      jit: options.jit ?? true,
      defaultRole: 'staff',
      roleMapping: options.roleMapping ?? { 'eventra-admins': 'admin' },
      oidc: {
        issuer: ISSUER,
        clientId: client.client_id,
        clientSecret: client.client_secret,
        scopes: ['openid', 'email', 'profile', 'groups'],
        ...(options.emailVerifiedClaim === undefined ? {} : { claims: { emailVerified: options.emailVerifiedClaim } }),
      },
    },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const { id } = await created.json<{ id: string }>();
  return { tenant, token, connectionId: id, callbackUrl };
}

function authorize(s: Setup, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call(s.tenant, 'POST', '/api/v1/sso/authorize', {
    body: { connectionId: s.connectionId, redirectUri: s.tenant.url('/signed-in'), ...body },
    headers,
  });
}

/** Authorize, sign in at the IdP as `login`, and follow the callback: the app's redirect (a URL). */
async function signIn(s: Setup, login: string, body: Record<string, unknown> = {}): Promise<URL> {
  const started = await authorize(s, { loginHint: login, ...body });
  expect(started.status, await started.clone().text()).toBe(200);
  const { authorizationUrl } = await started.json<{ authorizationUrl: string }>();
  const back = await atIdp(authorizationUrl, s.callbackUrl);
  const callback = await request(back, { redirect: 'manual' });
  expect(callback.status, await callback.clone().text()).toBe(303);
  expect(callback.headers.get('cache-control')).toBe('no-store');
  return new URL(callback.headers.get('location') ?? '');
}

function exchange(s: Setup, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call(s.tenant, 'POST', '/api/v1/sso/token', { body, headers });
}

interface SessionBody {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; emailVerified: boolean };
}

async function me(s: Setup, token: string) {
  const response = await call(s.tenant, 'GET', '/api/v1/auth/me', { token });
  expect(response.status).toBe(200);
  return response.json<{ id: string; email: string; role: { key: string } }>();
}

function subject(): string {
  return `sub-${crypto.randomUUID()}`;
}

describe('SSO sign-in through an OIDC connection', () => {
  it('provisions a new member just in time with the mapped role, then re-maps the role at the next sign-in', async () => {
    const s = await setup();
    const sub = subject();
    const email = `${sub}@acme.example`;
    await idpAccount({ sub, email, email_verified: true, name: 'Ada Admin', groups: ['eventra-admins'] });

    const back = await signIn(s, sub, { state: 'app-state-1' });
    expect(back.origin + back.pathname).toBe(s.tenant.url('/signed-in'));
    expect(back.searchParams.get('state')).toBe('app-state-1');
    const code = back.searchParams.get('code') ?? '';
    expect(code).toMatch(/^ssoc_/);
    expect(back.searchParams.get('error')).toBeNull();

    const requestId = newRequestId();
    const exchanged = await exchange(s, { code }, { 'x-request-id': requestId });
    expect(exchanged.status, await exchanged.clone().text()).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 0, redis: 1 });
    const first = await exchanged.json<SessionBody>();
    expect(first.user.email).toBe(email);
    expect(first.user.emailVerified).toBe(true);
    expect(first.refreshToken).toMatch(/^rt_/);
    const payload = JSON.parse(atob(first.accessToken.split('.')[1]?.replace(/-/g, '+').replace(/_/g, '/') ?? '')) as {
      amr: string[];
    };
    expect(payload.amr).toEqual(['fed']);
    expect((await me(s, first.accessToken)).role.key).toBe('admin');

    // The refresh token is a normal one: it rotates.
    const refreshed = await call(s.tenant, 'POST', '/api/v1/auth/refresh-token', {
      body: { refreshToken: first.refreshToken },
    });
    expect(refreshed.status).toBe(200);

    // A code is single use.
    const again = await exchange(s, { code });
    expect(again.status).toBe(400);

    // The IdP drops the group: the next sign-in finds the same account by its subject and gives the default role.
    await idpAccount({ sub, email, email_verified: true, name: 'Ada Admin', groups: [] });
    const second = await signIn(s, sub);
    const session = await (await exchange(s, { code: second.searchParams.get('code') })).json<SessionBody>();
    expect(session.user.id).toBe(first.user.id);
    expect((await me(s, session.accessToken)).role.key).toBe('staff');

    const db = database();
    const identities = await db.execute<{ user_id: string; subject: string }>(
      sql`select user_id, subject from user_identities where organization_id = ${s.tenant.organization.id}`,
    );
    expect(identities.rows).toEqual([{ user_id: first.user.id, subject: sub }]);
    const audits = await db.execute<{ metadata: Record<string, unknown> }>(
      sql`select metadata from audit_logs where organization_id = ${s.tenant.organization.id}
            and action = 'auth.sso_login' order by created_at`,
    );
    expect(audits.rows.map((row) => row.metadata)).toEqual([
      expect.objectContaining({ accountCreated: true, membershipCreated: true, role: 'admin', linked: true }),
      expect.objectContaining({ accountCreated: false, membershipCreated: false, role: 'staff', linked: false }),
    ]);
  });

  it('lists and unlinks the caller’s own identities only', async () => {
    const s = await setup();
    const sub = subject();
    const email = `${sub}@acme.example`;
    await idpAccount({ sub, email, email_verified: true, name: 'Ida' });
    const back = await signIn(s, sub);
    const session = await (await exchange(s, { code: back.searchParams.get('code') })).json<SessionBody>();

    const requestId = newRequestId();
    const listed = await call(s.tenant, 'GET', '/api/v1/sso/identities', {
      token: session.accessToken,
      headers: { 'x-request-id': requestId },
    });
    expect(listed.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const { items } = await listed.json<{
      items: { id: string; subject: string; email: string; connection: { id: string; type: string } }[];
    }>();
    expect(items.map((item) => [item.subject, item.email, item.connection.id])).toEqual([[sub, email, s.connectionId]]);
    const identityId = items[0]?.id ?? '';

    // The admin who set the connection up sees none of their own, and cannot unlink someone else's.
    const theirs = await call(s.tenant, 'GET', '/api/v1/sso/identities', { token: s.token });
    expect((await theirs.json<{ items: unknown[] }>()).items).toEqual([]);
    const foreign = await call(s.tenant, 'DELETE', `/api/v1/sso/identities/${identityId}`, { token: s.token });
    expect(foreign.status).toBe(404);

    const unlinked = await call(s.tenant, 'DELETE', `/api/v1/sso/identities/${identityId}`, {
      token: session.accessToken,
    });
    expect(unlinked.status).toBe(204);
    expect(
      (await call(s.tenant, 'DELETE', `/api/v1/sso/identities/${identityId}`, { token: session.accessToken })).status,
    ).toBe(404);
    const audits = await database().execute<{ target_id: string }>(
      sql`select target_id from audit_logs where organization_id = ${s.tenant.organization.id}
            and action = 'auth.identity_unlinked'`,
    );
    expect(audits.rows).toEqual([{ target_id: identityId }]);

    // The next sign-in finds the account again by its verified email and links it anew.
    const again = await signIn(s, sub);
    const relinked = await (await exchange(s, { code: again.searchParams.get('code') })).json<SessionBody>();
    expect(relinked.user.id).toBe(session.user.id);
  });

  it('keeps authorize to one database and one Redis round trip, and refuses redirects off the allow-list', async () => {
    const s = await setup();
    // The first request resolves the tenant and discovers the IdP in this isolate.
    expect((await authorize(s, {})).status).toBe(200);
    const requestId = newRequestId();
    const started = await authorize(s, {}, { 'x-request-id': requestId });
    expect(started.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const { authorizationUrl, expiresIn } = await started.json<{ authorizationUrl: string; expiresIn: number }>();
    expect(expiresIn).toBe(600);
    const url = new URL(authorizationUrl);
    expect(url.origin).toBe(ISSUER);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toBe(s.callbackUrl);
    for (const name of ['state', 'nonce', 'code_challenge']) {
      expect(url.searchParams.get(name)?.length ?? 0).toBeGreaterThanOrEqual(43);
    }

    for (const redirectUri of [
      'https://evil.example/steal',
      `${s.tenant.url('/x')}#fragment`,
      'javascript:alert(1)',
      `http://user:pw@${s.tenant.host}/x`,
      '/relative',
    ]) {
      const refused = await authorize(s, { redirectUri });
      expect(refused.status, redirectUri).toBe(400);
      expect((await problem(refused)).errors?.[0]?.pointer).toBe('/body/redirectUri');
    }
    // An origin the organization allows.
    await database().execute(
      sql`update organizations set settings = settings || '{"allowedOrigins":["https://tickets.acme.example"]}'::jsonb
           where id = ${s.tenant.organization.id}`,
    );
    const other = await createTenant({ plan: 'enterprise' });
    // Another organization's connection is not found here.
    const foreign = await call(other, 'POST', '/api/v1/sso/authorize', {
      body: { connectionId: s.connectionId, redirectUri: other.url('/x') },
    });
    expect(foreign.status).toBe(404);
    const pro = await createTenant({ plan: 'pro' });
    const unplanned = await call(pro, 'POST', '/api/v1/sso/authorize', {
      body: { connectionId: s.connectionId, redirectUri: pro.url('/x') },
    });
    expect(unplanned.status).toBe(403);
  });

  it('links an existing account only on an email the IdP asserts as verified', async () => {
    const s = await setup();
    const { member } = await memberWithToken(s.tenant, 'staff');
    const sub = subject();
    await idpAccount({ sub, email: member.email, email_verified: false, name: 'Mallory' });
    const refused = await signIn(s, sub, { state: 's1' });
    expect(refused.searchParams.get('error')).toBe('access_denied');
    expect(refused.searchParams.get('error_description')).toMatch(/did not assert that the email is verified/);
    expect(refused.searchParams.get('state')).toBe('s1');
    expect(refused.searchParams.get('code')).toBeNull();
    const none = await database().execute(
      sql`select 1 from user_identities where organization_id = ${s.tenant.organization.id}`,
    );
    expect(none.rows).toEqual([]);

    // No email at all, or an unverified one for a new account: nobody is created.
    const anonymous = subject();
    await idpAccount({ sub: anonymous, name: 'No Mail' });
    expect((await signIn(s, anonymous)).searchParams.get('error')).toBe('access_denied');
    const unverified = subject();
    await idpAccount({ sub: unverified, email: `${unverified}@acme.example`, email_verified: false });
    expect((await signIn(s, unverified)).searchParams.get('error')).toBe('access_denied');
    const created = await database().execute(sql`select 1 from users where email = ${`${unverified}@acme.example`}`);
    expect(created.rows).toEqual([]);

    await idpAccount({ sub, email: member.email, email_verified: true, name: 'Staff Member' });
    const linked = await signIn(s, sub);
    const session = await (await exchange(s, { code: linked.searchParams.get('code') })).json<SessionBody>();
    expect(session.user.id).toBe(member.userId);
    // No mapping matched: the default role, staff.
    expect((await me(s, session.accessToken)).role.key).toBe('staff');
  });

  it('refuses non-members when just-in-time provisioning is off, and disabled members always', async () => {
    const s = await setup({ jit: false, roleMapping: {} });
    const stranger = subject();
    await idpAccount({ sub: stranger, email: `${stranger}@acme.example`, email_verified: true });
    expect((await signIn(s, stranger)).searchParams.get('error')).toBe('access_denied');

    const { member } = await memberWithToken(s.tenant, 'admin');
    const sub = subject();
    await idpAccount({ sub, email: member.email, email_verified: true });
    // Without a mapping an existing member keeps their role.
    const kept = await signIn(s, sub);
    const session = await (await exchange(s, { code: kept.searchParams.get('code') })).json<SessionBody>();
    expect((await me(s, session.accessToken)).role.key).toBe('admin');

    await database().execute(
      sql`update memberships set status = 'disabled' where user_id = ${member.userId}
            and organization_id = ${s.tenant.organization.id}`,
    );
    expect((await signIn(s, sub)).searchParams.get('error')).toBe('access_denied');
  });

  it('binds the code to the app with PKCE and refuses replayed or foreign state', async () => {
    const s = await setup();
    const sub = subject();
    await idpAccount({ sub, email: `${sub}@acme.example`, email_verified: true });
    const verifier = oauth.generateRandomCodeVerifier();
    const challenge = await oauth.calculatePKCECodeChallenge(verifier);

    const started = await authorize(s, { loginHint: sub, codeChallenge: challenge });
    const { authorizationUrl } = await started.json<{ authorizationUrl: string }>();
    const back = await atIdp(authorizationUrl, s.callbackUrl);
    const callback = await request(back, { redirect: 'manual' });
    expect(callback.status).toBe(303);
    // The same callback twice: its state was used.
    const replayed = await request(back, { redirect: 'manual' });
    expect(replayed.status).toBe(400);
    expect(replayed.headers.get('content-type')).toContain('application/problem+json');

    const code = new URL(callback.headers.get('location') ?? '').searchParams.get('code');
    // Without the verifier, or with another, the code is spent and refused.
    expect((await exchange(s, { code })).status).toBe(400);
    const second = await signIn(s, sub, { codeChallenge: challenge });
    const wrong = oauth.generateRandomCodeVerifier();
    expect((await exchange(s, { code: second.searchParams.get('code'), codeVerifier: wrong })).status).toBe(400);
    const third = await signIn(s, sub, { codeChallenge: challenge });
    const good = await exchange(s, { code: third.searchParams.get('code'), codeVerifier: verifier });
    expect(good.status).toBe(200);
    // A verifier where no challenge was sent is refused too.
    const plain = await signIn(s, sub);
    expect((await exchange(s, { code: plain.searchParams.get('code'), codeVerifier: verifier })).status).toBe(400);

    // A state started at one organization is unknown at another's callback.
    const other = await setup();
    const foreign = await authorize(s, { loginHint: sub });
    const foreignUrl = await atIdp(
      (await foreign.json<{ authorizationUrl: string }>()).authorizationUrl,
      s.callbackUrl,
    );
    const moved = new URL(foreignUrl);
    const atOther = await request(other.callbackUrl + moved.search, { redirect: 'manual' });
    expect(atOther.status).toBe(400);
    // A made-up state, and none.
    expect((await request(`${s.callbackUrl}?state=forged&code=x`, { redirect: 'manual' })).status).toBe(400);
    expect((await request(`${s.callbackUrl}?code=x`, { redirect: 'manual' })).status).toBe(400);
  });

  it("sends the IdP's refusal and a code the IdP does not know back to the app as errors", async () => {
    const s = await setup();
    // No such account at the IdP: it answers access_denied to our callback.
    const unknown = await signIn(s, 'nobody-at-the-idp', { state: 'st' });
    expect(unknown.searchParams.get('error')).toBe('access_denied');
    expect(unknown.searchParams.get('state')).toBe('st');

    // A forged code with a valid state: the token endpoint refuses it.
    const sub = subject();
    await idpAccount({ sub, email: `${sub}@acme.example`, email_verified: true });
    const started = await authorize(s, { loginHint: sub });
    const back = new URL(
      await atIdp((await started.json<{ authorizationUrl: string }>()).authorizationUrl, s.callbackUrl),
    );
    back.searchParams.set('code', 'forged-code');
    const callback = await request(back.toString(), { redirect: 'manual' });
    expect(callback.status).toBe(303);
    const location = new URL(callback.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('server_error');
    expect(location.searchParams.get('code')).toBeNull();
  });
});

describe('SSO sign-in: the claim that vouches for the email', () => {
  it('reads another claim when the connection names it (Entra ID: xms_edov), and only that one', async () => {
    const entra = await setup({ emailVerifiedClaim: 'xms_edov' });
    const sub = subject();
    await idpAccount({ sub, email: `${sub}@contoso.example`, name: 'Entra User', xms_edov: true });
    const back = await signIn(entra, sub);
    expect(back.searchParams.get('error_description')).toBeNull();
    const session = await exchange(entra, { code: back.searchParams.get('code') });
    expect((await session.json<SessionBody>()).user.emailVerified).toBe(true);
    const shown = await call(entra.tenant, 'GET', `/api/v1/sso/connections/${entra.connectionId}`, {
      token: entra.token,
    });
    expect((await shown.json<{ oidc: { claims: Record<string, string> } }>()).oidc.claims.emailVerified).toBe(
      'xms_edov',
    );

    // The same account through a connection reading the standard claim: no verified email, no account.
    const standard = await setup();
    const other = subject();
    await idpAccount({ sub: other, email: `${other}@contoso.example`, name: 'Entra User', xms_edov: true });
    const refused = await signIn(standard, other);
    expect(refused.searchParams.get('error_description')).toBe('The identity provider sent no verified email address.');
  });
});
