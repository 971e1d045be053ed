import { sql } from 'drizzle-orm';
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
import { randomIp } from '../support/auth.ts';
import { atIdp, idpAccount, registerIdpClient, type IdpAccount } from '../support/oidc.ts';
import { call, memberWithToken } from '../support/users.ts';

/*
 * Social login (Google, Microsoft Entra ID, LinkedIn) against the tests' OpenID Provider standing in for each
 * provider (SOCIAL_ISSUERS, local environment only): the platform's clients, registered with the platform host's
 * callback, and an organization's own.
 */

const SOCIAL = inject('socialIdp');
const PLATFORM_CALLBACK = 'http://localhost/api/v1/sso/callback';

interface Setup {
  tenant: TestTenant;
  token: string;
  connectionId: string;
}

interface SocialView {
  type: string;
  oidc: unknown;
  saml: unknown;
  social: {
    provider: string;
    clientId: string | null;
    clientSecretSet: boolean;
    tenant: string | null;
    redirectUri: string;
  };
}

async function setup(type: 'google' | 'microsoft' | 'linkedin', social?: Record<string, unknown>): Promise<Setup> {
  const tenant = await createTenant({ plan: 'enterprise' });
  const { token } = await memberWithToken(tenant, 'admin');
  const created = await call(tenant, 'POST', '/api/v1/sso/connections', {
    token,
    body: { type, defaultRole: 'staff', ...(social === undefined ? {} : { social }) },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const { id } = await created.json<{ id: string }>();
  return { tenant, token, connectionId: id };
}

function subject(): string {
  return `sub-${crypto.randomUUID()}`;
}

async function authorize(s: Setup, loginHint: string) {
  const started = await call(s.tenant, 'POST', '/api/v1/sso/authorize', {
    body: { connectionId: s.connectionId, redirectUri: s.tenant.url('/signed-in'), loginHint, state: 'app-1' },
  });
  expect(started.status, await started.clone().text()).toBe(200);
  return new URL((await started.json<{ authorizationUrl: string }>()).authorizationUrl);
}

/**
 * The browser at the platform host: from its own address (the platform host's sign-in limit is per client address,
 * and every test would otherwise share the one bucket of requests without one).
 */
function atPlatform(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return request(url, { redirect: 'manual', headers: { 'cf-connecting-ip': randomIp(), ...headers } });
}

function locationOf(response: Response): URL {
  return new URL(response.headers.get('location') ?? '');
}

/**
 * A sign-in through the platform's client: the IdP sends the browser to the platform host's callback, which hands it
 * to the organization's; that one answers the app's redirect.
 */
async function signInOnPlatformClient(s: Setup, account: IdpAccount): Promise<URL> {
  await idpAccount(account);
  const authorizationUrl = await authorize(s, account.sub);
  const back = await atIdp(authorizationUrl.toString(), PLATFORM_CALLBACK);
  const bounced = await atPlatform(back);
  expect(bounced.status, await bounced.clone().text()).toBe(303);
  const onTenant = locationOf(bounced);
  expect(onTenant.origin + onTenant.pathname).toBe(s.tenant.url('/api/v1/sso/callback'));
  expect(onTenant.search).toBe(new URL(back).search);
  const finished = await request(onTenant.toString(), { redirect: 'manual' });
  expect(finished.status, await finished.clone().text()).toBe(303);
  return locationOf(finished);
}

async function session(s: Setup, back: URL) {
  expect(back.searchParams.get('error_description')).toBeNull();
  const exchanged = await call(s.tenant, 'POST', '/api/v1/sso/token', {
    body: { code: back.searchParams.get('code') },
  });
  expect(exchanged.status, await exchanged.clone().text()).toBe(200);
  return exchanged.json<{ accessToken: string; user: { id: string; email: string; emailVerified: boolean } }>();
}

describe('social login: Google', () => {
  it('signs in through the platform’s client via the platform host’s callback, and provisions the member', async () => {
    const s = await setup('google');
    const shown = await call(s.tenant, 'GET', `/api/v1/sso/connections/${s.connectionId}`, { token: s.token });
    const view = await shown.json<SocialView & { name: string }>();
    expect(view).toMatchObject({
      type: 'google',
      name: 'Google',
      oidc: null,
      saml: null,
      social: {
        provider: 'google',
        clientId: null,
        clientSecretSet: false,
        tenant: null,
        redirectUri: PLATFORM_CALLBACK,
      },
    });

    const sub = subject();
    const email = `${sub}@gmail.example`;
    await idpAccount({ sub, email, email_verified: true, name: 'Grace' });
    const authorizationUrl = await authorize(s, sub);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(`${SOCIAL.googleIssuer}/auth`);
    expect(authorizationUrl.searchParams.get('client_id')).toBe('platform-google');
    expect(authorizationUrl.searchParams.get('redirect_uri')).toBe(PLATFORM_CALLBACK);
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const back = await atIdp(authorizationUrl.toString(), PLATFORM_CALLBACK);
    // The platform host's hand-over: one Redis round trip (the limit and the sign-in's organization), no database.
    const requestId = newRequestId();
    const bounced = await atPlatform(back, { 'x-request-id': requestId });
    expect(bounced.status, await bounced.clone().text()).toBe(303);
    expect(bounced.headers.get('cache-control')).toBe('no-store');
    expect(await roundTrips(requestId)).toEqual({ database: 0, redis: 1 });
    const onTenant = locationOf(bounced);
    expect(onTenant.toString()).toBe(`${s.tenant.url('/api/v1/sso/callback')}${new URL(back).search}`);

    const finished = await request(onTenant.toString(), { redirect: 'manual' });
    expect(finished.status, await finished.clone().text()).toBe(303);
    const app = locationOf(finished);
    expect(app.origin + app.pathname).toBe(s.tenant.url('/signed-in'));
    expect(app.searchParams.get('state')).toBe('app-1');
    const signedIn = await session(s, app);
    expect(signedIn.user).toMatchObject({ email, emailVerified: true });
    const me = await call(s.tenant, 'GET', '/api/v1/auth/me', { token: signedIn.accessToken });
    expect((await me.json<{ role: { key: string } }>()).role.key).toBe('staff');

    // The sign-in was taken by the organization's callback: the platform's hand-over of it again is refused.
    const replayed = await atPlatform(back);
    expect(replayed.status).toBe(400);
    // A state the platform never issued, or none.
    expect((await atPlatform(`${PLATFORM_CALLBACK}?state=forged&code=x`)).status).toBe(400);
    const none = await atPlatform(`${PLATFORM_CALLBACK}?code=x`);
    expect((await problem(none)).errors).toEqual([expect.objectContaining({ pointer: '/query/state' })]);
  });

  it('never links an existing account on an email Google does not assert as verified', async () => {
    const s = await setup('google');
    const { member } = await memberWithToken(s.tenant, 'staff');
    const sub = subject();
    const back = await signInOnPlatformClient(s, { sub, email: member.email, email_verified: false, name: 'Mallory' });
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toBe(
      'An account with this email exists, and the identity provider did not assert that the email is verified.',
    );
    expect(back.searchParams.get('code')).toBeNull();
    const linked = await database().execute<{ n: number }>(
      sql`select count(*)::int as n from user_identities where organization_id = ${s.tenant.organization.id}`,
    );
    expect(linked.rows[0]?.n).toBe(0);
  });

  it('signs in through the organization’s own client on its own host, its secret never shown', async () => {
    const tenant = await createTenant({ plan: 'enterprise' });
    const { token } = await memberWithToken(tenant, 'admin');
    const callbackUrl = tenant.url('/api/v1/sso/callback');
    const client = await registerIdpClient(SOCIAL.googleIssuer, callbackUrl);

    const half = await call(tenant, 'POST', '/api/v1/sso/connections', {
      token,
      body: { type: 'google', defaultRole: 'staff', social: { clientId: client.client_id } },
    });
    expect((await problem(half)).errors).toEqual([
      { pointer: '/body/social/clientSecret', message: 'Give clientId and clientSecret together.' },
    ]);
    const tenantless = await call(tenant, 'POST', '/api/v1/sso/connections', {
      token,
      body: { type: 'google', defaultRole: 'staff', social: { tenant: 'common' } },
    });
    expect(tenantless.status).toBe(400);

    const createdId = newRequestId();
    const created = await call(tenant, 'POST', '/api/v1/sso/connections', {
      token,
      headers: { 'x-request-id': createdId },
      body: {
        type: 'google',
        name: 'Google (Acme)',
        defaultRole: 'staff',
        social: { clientId: client.client_id, clientSecret: client.client_secret },
      },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    // As an OIDC connection: one write batch (the provider's discovery is read at sign-in, not here).
    expect(await roundTrips(createdId)).toEqual({ database: 1, redis: 1 });
    const text = await created.clone().text();
    expect(text).not.toContain(client.client_secret);
    const view = await created.json<SocialView & { id: string }>();
    expect(view.social).toEqual({
      provider: 'google',
      clientId: client.client_id,
      clientSecretSet: true,
      tenant: null,
      redirectUri: callbackUrl,
    });
    const s = { tenant, token, connectionId: view.id };

    const sub = subject();
    await idpAccount({ sub, email: `${sub}@acme.example`, email_verified: true, name: 'Own' });
    const authorizationUrl = await authorize(s, sub);
    expect(authorizationUrl.searchParams.get('client_id')).toBe(client.client_id);
    expect(authorizationUrl.searchParams.get('redirect_uri')).toBe(callbackUrl);
    const back = await atIdp(authorizationUrl.toString(), callbackUrl);
    const finished = await request(back, { redirect: 'manual' });
    expect(finished.status).toBe(303);
    expect((await session(s, locationOf(finished))).user.email).toBe(`${sub}@acme.example`);

    // An own client's sign-in never passes through the platform host.
    const other = await authorize(s, sub);
    const otherBack = await atIdp(other.toString(), callbackUrl);
    const onPlatform = `${PLATFORM_CALLBACK}${new URL(otherBack).search}`;
    expect((await atPlatform(onPlatform)).status).toBe(400);
  });
});

describe('social login: Microsoft Entra ID (multi-tenant)', () => {
  it('checks each ID token against its own tenant’s issuer, and counts an email verified only with xms_edov', async () => {
    const s = await setup('microsoft');
    const shown = await call(s.tenant, 'GET', `/api/v1/sso/connections/${s.connectionId}`, { token: s.token });
    expect((await shown.json<SocialView>()).social).toMatchObject({ provider: 'microsoft', tenant: 'organizations' });

    const sub = subject();
    const email = `${sub}@contoso.example`;
    const tid = SOCIAL.microsoftTenantId;
    const authorizationUrl = await authorize(s, sub);
    // The organizations endpoint's discovery, whose issuer is the template.
    expect(authorizationUrl.toString()).toContain(`/ms/${tid}/v2.0/auth?`);
    expect(authorizationUrl.searchParams.get('client_id')).toBe('platform-microsoft');

    const back = await signInOnPlatformClient(s, { sub, email, name: 'Entra', tid, xms_edov: true });
    const signedIn = await session(s, back);
    expect(signedIn.user).toMatchObject({ email, emailVerified: true });

    // Entra ID's `email` without xms_edov is whatever a tenant administrator typed: it never links an account
    // ("nOAuth"), nor creates one.
    const { member } = await memberWithToken(s.tenant, 'staff');
    const typed = await signInOnPlatformClient(s, { sub: subject(), email: member.email, name: 'Typed', tid });
    expect(typed.searchParams.get('error')).toBe('access_denied');
    expect(typed.searchParams.get('error_description')).toBe(
      'An account with this email exists, and the identity provider did not assert that the email is verified.',
    );
    const fresh = await signInOnPlatformClient(s, { sub: subject(), email: `${sub}-2@contoso.example`, tid });
    expect(fresh.searchParams.get('error')).toBe('access_denied');
    expect(fresh.searchParams.get('error_description')).toBe('The identity provider sent no verified email address.');
  });

  it('refuses an ID token whose issuer is not its own tid’s', async () => {
    const s = await setup('microsoft');
    const sub = subject();
    // Signed by the tenant of the stand-in, claiming another tenant.
    const back = await signInOnPlatformClient(s, {
      sub,
      email: `${sub}@fabrikam.example`,
      tid: '0b9e8d7c-6a5b-4c3d-9e2f-1a0b9c8d7e6f',
      xms_edov: true,
    });
    expect(back.searchParams.get('error_description')).toBe('Sign-in failed (token_issuer_mismatch).');
    expect(back.searchParams.get('error')).toBe('server_error');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('pins one tenant when the connection names it', async () => {
    const s = await setup('microsoft', { tenant: SOCIAL.microsoftTenantId });
    const sub = subject();
    const back = await signInOnPlatformClient(s, {
      sub,
      email: `${sub}@contoso.example`,
      tid: SOCIAL.microsoftTenantId,
      xms_edov: true,
    });
    expect((await session(s, back)).user.email).toBe(`${sub}@contoso.example`);
    const bad = await call(s.tenant, 'POST', '/api/v1/sso/connections', {
      token: s.token,
      body: { type: 'microsoft', defaultRole: 'staff', social: { tenant: 'contoso.onmicrosoft.com' } },
    });
    expect(bad.status).toBe(400);
  });
});

describe('social login: LinkedIn', () => {
  it('authenticates the client the way LinkedIn takes it (client_secret_post)', async () => {
    const s = await setup('linkedin');
    const sub = subject();
    const authorizationUrl = await authorize(s, sub);
    expect(authorizationUrl.toString().startsWith(`${SOCIAL.linkedinIssuer}/auth?`)).toBe(true);
    const back = await signInOnPlatformClient(s, {
      sub,
      email: `${sub}@linkedin.example`,
      email_verified: true,
      name: 'Lin',
    });
    const signedIn = await session(s, back);
    expect(signedIn.user.email).toBe(`${sub}@linkedin.example`);
    const identities = await call(s.tenant, 'GET', '/api/v1/sso/identities', { token: signedIn.accessToken });
    const listed = await identities.json<{ items: { connection: { type: string }; subject: string }[] }>();
    expect(listed.items.map((item) => [item.subject, item.connection.type])).toEqual([[sub, 'linkedin']]);
  });
});
