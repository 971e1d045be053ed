import { inflateRawSync } from 'node:zlib';
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
import {
  assertionXml,
  idpMetadataXml,
  postBinding,
  responseXml,
  sign,
  TEST_IDP_ENTITY_ID,
  TEST_IDP_SSO_URL,
  type AssertionOptions,
} from '../support/saml-idp.ts';
import { publishDocument } from '../support/oidc.ts';
import { IDP_CERT, OTHER_CERT, OTHER_KEY } from '../support/saml-keys.ts';
import { call, memberWithToken } from '../support/users.ts';

/*
 * Sign-in through an organization's SAML connection, through the routes: the connection created by the API,
 * POST /api/v1/sso/authorize (the AuthnRequest), the IdP's signed Response posted to the ACS (tests/support/saml-idp.ts
 * signs real assertions with the test IdP's key), the one-time code for the session. The attack matrix of the
 * response checks themselves is tests/worker/saml.test.ts.
 */

const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

interface SamlView {
  id: string;
  type: string;
  oidc: unknown;
  saml: {
    allowIdpInitiated: boolean;
    idpInitiatedRedirectUri: string | null;
    idpEntityId: string;
    signingCertificates: { sha256Fingerprint: string }[];
    serviceProvider: { entityId: string; acsUrl: string; metadataUrl: string };
  };
}

async function setup(saml: Record<string, unknown> | ((tenant: TestTenant) => Record<string, unknown>) = {}) {
  const tenant = await createTenant({ plan: 'enterprise' });
  const { token } = await memberWithToken(tenant, 'admin');
  const created = await call(tenant, 'POST', '/api/v1/sso/connections', {
    token,
    body: {
      type: 'saml',
      name: 'Test SAML IdP',
      defaultRole: 'staff',
      roleMapping: { 'eventra-admins': 'admin' },
      saml: {
        idpEntityId: TEST_IDP_ENTITY_ID,
        ssoUrl: TEST_IDP_SSO_URL,
        signingCertificates: [IDP_CERT],
        emailVerifiedByIdp: true,
        nameIdFormat: EMAIL_FORMAT,
        attributes: { groups: 'memberOf' },
        ...(typeof saml === 'function' ? saml(tenant) : saml),
      },
    },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const view = await created.json<SamlView>();
  return { tenant, token, view, sp: view.saml.serviceProvider };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** POST /api/v1/sso/authorize, and the AuthnRequest's ID and RelayState from the IdP URL it answers. */
async function authorize(s: Setup, body: Record<string, unknown> = {}) {
  const started = await call(s.tenant, 'POST', '/api/v1/sso/authorize', {
    body: { connectionId: s.view.id, redirectUri: s.tenant.url('/signed-in'), ...body },
  });
  expect(started.status, await started.clone().text()).toBe(200);
  const url = new URL((await started.json<{ authorizationUrl: string }>()).authorizationUrl);
  expect(url.origin + url.pathname).toBe(TEST_IDP_SSO_URL);
  const xml = inflateRawSync(
    Uint8Array.from(atob(url.searchParams.get('SAMLRequest') ?? ''), (character) => character.charCodeAt(0)),
  ).toString('utf8');
  const requestId = /ID="([^"]+)"/.exec(xml)?.[1] ?? '';
  expect(xml).toContain(`AssertionConsumerServiceURL="${s.sp.acsUrl}"`);
  return { requestId, relayState: url.searchParams.get('RelayState') ?? '' };
}

/** A Response signed by the test IdP answering `requestId` for `email`. */
/** A Response signed by the test IdP, answering the AuthnRequest `requestId` (none: an IdP-initiated one). */
function signedResponse(
  s: Setup,
  requestId: string | undefined,
  options: Partial<AssertionOptions> & { email: string },
) {
  const { email, ...rest } = options;
  const answering = requestId === undefined ? {} : { inResponseTo: requestId };
  return postBinding(
    responseXml(
      sign(
        assertionXml({
          audience: s.sp.entityId,
          recipient: s.sp.acsUrl,
          ...answering,
          nameId: email,
          nameIdFormat: EMAIL_FORMAT,
          attributes: { email: [email], name: ['Sam Ell'] },
          ...rest,
        }),
        'Assertion',
      ),
      { destination: s.sp.acsUrl, ...answering },
    ),
  );
}

function acs(s: Setup, form: Record<string, string>, headers: Record<string, string> = {}) {
  return request(s.tenant.url(`/api/v1/sso/saml/${s.view.id}/acs`), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

function locationOf(response: Response): URL {
  expect(response.status).toBe(303);
  return new URL(response.headers.get('location') ?? '');
}

describe('SSO sign-in through a SAML connection', () => {
  it('creates the connection with its SP endpoints and serves the SP metadata', async () => {
    const s = await setup();
    expect(s.view.type).toBe('saml');
    expect(s.view.oidc).toBeNull();
    expect(s.view.saml.idpEntityId).toBe(TEST_IDP_ENTITY_ID);
    expect(s.view.saml.signingCertificates[0]?.sha256Fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(s.sp.acsUrl).toBe(s.tenant.url(`/api/v1/sso/saml/${s.view.id}/acs`));
    expect(s.sp.metadataUrl).toBe(s.sp.entityId);

    const metadata = await request(s.tenant.url(`/api/v1/sso/saml/${s.view.id}/metadata`));
    expect(metadata.status).toBe(200);
    expect(metadata.headers.get('content-type')).toContain('application/samlmetadata+xml');
    const xml = await metadata.text();
    expect(xml).toContain(`entityID="${s.sp.entityId}"`);
    expect(xml).toContain(`Location="${s.sp.acsUrl}"`);
    expect(xml).toContain('WantAssertionsSigned="true"');

    // Another organization's connection, and an OIDC one, have no SAML metadata here.
    const other = await createTenant({ plan: 'enterprise' });
    expect((await request(other.url(`/api/v1/sso/saml/${s.view.id}/metadata`))).status).toBe(404);

    // Metadata XML instead of the fields; a broken one is a 400 naming the field.
    const broken = await call(s.tenant, 'POST', '/api/v1/sso/connections', {
      token: s.token,
      body: { type: 'saml', name: 'Broken', defaultRole: 'staff', saml: { metadataXml: '<!DOCTYPE x><x/>' } },
    });
    expect(broken.status).toBe(400);
    expect((await problem(broken)).errors?.[0]?.pointer).toBe('/body/saml/metadataXml');
    // The IdP's metadata URL instead: fetched once, at creation.
    const bare = IDP_CERT.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');
    const byUrl = await call(s.tenant, 'POST', '/api/v1/sso/connections', {
      token: s.token,
      body: {
        type: 'saml',
        name: 'By URL',
        defaultRole: 'staff',
        saml: { metadataUrl: await publishDocument(idpMetadataXml(bare)) },
      },
    });
    expect(byUrl.status, await byUrl.clone().text()).toBe(201);
    expect((await byUrl.json<SamlView>()).saml).toMatchObject({
      idpEntityId: TEST_IDP_ENTITY_ID,
      signingCertificates: s.view.saml.signingCertificates,
    });
    for (const metadataUrl of [
      `${inject('oidcIssuer')}/__documents/never-published`,
      await publishDocument('<!DOCTYPE x><x/>'),
      'https://user:secret@idp.example/metadata',
      'https://192.168.1.10/metadata',
    ]) {
      const refused = await call(s.tenant, 'POST', '/api/v1/sso/connections', {
        token: s.token,
        body: { type: 'saml', name: 'Refused', defaultRole: 'staff', saml: { metadataUrl } },
      });
      expect((await problem(refused)).errors?.[0]?.pointer, metadataUrl).toBe('/body/saml/metadataUrl');
    }
    // Over 512 KiB (the metadata of a whole federation, say).
    const oversize = await call(s.tenant, 'POST', '/api/v1/sso/connections', {
      token: s.token,
      body: {
        type: 'saml',
        name: 'Oversize',
        defaultRole: 'staff',
        saml: { metadataUrl: await publishDocument(idpMetadataXml(bare) + ' '.repeat(600 * 1024)) },
      },
    });
    expect((await problem(oversize)).errors).toEqual([
      { pointer: '/body/saml/metadataUrl', message: 'The metadata is larger than 512 KiB.' },
    ]);
    const missing = await call(s.tenant, 'POST', '/api/v1/sso/connections', {
      token: s.token,
      body: { type: 'saml', name: 'Missing', defaultRole: 'staff', saml: { idpEntityId: 'x' } },
    });
    expect(missing.status).toBe(400);
  });

  it('signs a member in just in time from a signed assertion, with the mapped role', async () => {
    const s = await setup();
    const email = `saml-${crypto.randomUUID()}@acme.example`;
    const { requestId, relayState } = await authorize(s, { state: 'st-1' });
    expect(relayState).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const response = signedResponse(s, requestId, {
      email,
      attributes: { email: [email], name: ['Sam Ell'], memberOf: ['eventra-admins'] },
    });
    const requestIdHeader = newRequestId();
    const posted = await acs(
      s,
      { SAMLResponse: response, RelayState: relayState },
      { 'x-request-id': requestIdHeader },
    );
    const back = locationOf(posted);
    expect(await roundTrips(requestIdHeader)).toEqual({ database: 3, redis: 3 });
    expect(back.searchParams.get('state')).toBe('st-1');
    const code = back.searchParams.get('code');
    expect(code).toMatch(/^ssoc_/);
    const session = await call(s.tenant, 'POST', '/api/v1/sso/token', { body: { code } });
    expect(session.status).toBe(200);
    const { accessToken, user } = await session.json<{ accessToken: string; user: { email: string } }>();
    expect(user.email).toBe(email);
    const me = await call(s.tenant, 'GET', '/api/v1/auth/me', { token: accessToken });
    expect((await me.json<{ role: { key: string } }>()).role.key).toBe('admin');

    // The same response again: its transaction is spent (400); replayed under a fresh transaction, the assertion is
    // refused as a replay and as an answer to another request.
    expect((await acs(s, { SAMLResponse: response, RelayState: relayState })).status).toBe(400);
    const fresh = await authorize(s);
    const replay = locationOf(await acs(s, { SAMLResponse: response, RelayState: fresh.relayState }));
    expect(replay.searchParams.get('error')).toBe('access_denied');
    expect(replay.searchParams.get('code')).toBeNull();

    const audits = await database().execute<{ metadata: { connectionId: string } }>(
      sql`select metadata from audit_logs where organization_id = ${s.tenant.organization.id}
            and action = 'auth.sso_login'`,
    );
    expect(audits.rows.map((row) => row.metadata.connectionId)).toEqual([s.view.id]);
  });

  it('sends refused responses back to the app as access_denied, and nobody is signed in', async () => {
    const s = await setup();
    const email = `saml-${crypto.randomUUID()}@acme.example`;
    const cases: [string, (requestId: string) => string][] = [
      // Signed by a key the connection does not trust.
      [
        'saml_signature_invalid',
        (requestId) =>
          postBinding(
            responseXml(
              sign(
                assertionXml({
                  audience: s.sp.entityId,
                  recipient: s.sp.acsUrl,
                  inResponseTo: requestId,
                  nameId: email,
                  nameIdFormat: EMAIL_FORMAT,
                }),
                'Assertion',
                OTHER_KEY,
                OTHER_CERT,
              ),
              { destination: s.sp.acsUrl, inResponseTo: requestId },
            ),
          ),
      ],
      // Not signed at all.
      [
        'saml_unsigned',
        (requestId) =>
          postBinding(
            responseXml(
              assertionXml({ audience: s.sp.entityId, recipient: s.sp.acsUrl, inResponseTo: requestId, nameId: email }),
              { destination: s.sp.acsUrl, inResponseTo: requestId },
            ),
          ),
      ],
      // For another service provider.
      [
        'saml_audience_mismatch',
        (requestId) => signedResponse(s, requestId, { email, audience: 'https://other.example/sp' }),
      ],
      // Answering another AuthnRequest.
      ['saml_in_response_to', () => signedResponse(s, '_not-our-request', { email })],
    ];
    for (const [expected, build] of cases) {
      const { requestId, relayState } = await authorize(s);
      const back = locationOf(await acs(s, { SAMLResponse: build(requestId), RelayState: relayState }));
      expect(back.searchParams.get('error'), expected).toBe('access_denied');
      expect(back.searchParams.get('error_description'), expected).toContain(expected);
      expect(back.searchParams.get('code')).toBeNull();
    }
    const users = await database().execute(sql`select 1 from users where email = ${email}`);
    expect(users.rows).toEqual([]);

    // No RelayState (a sign-in started at the IdP), a made-up one, and another connection's: 400 problems.
    const { requestId } = await authorize(s);
    const response = signedResponse(s, requestId, { email });
    const without = await acs(s, { SAMLResponse: response });
    expect(without.status).toBe(400);
    expect(without.headers.get('content-type')).toContain('application/problem+json');
    expect((await acs(s, { SAMLResponse: response, RelayState: 'x'.repeat(43) })).status).toBe(400);
    // Not a form, and a form with no SAMLResponse: 4xx problems, never a 500.
    const json = await request(s.tenant.url(`/api/v1/sso/saml/${s.view.id}/acs`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ SAMLResponse: response }),
    });
    expect([400, 415]).toContain(json.status);
    expect((await acs(s, { RelayState: (await authorize(s)).relayState })).status).toBe(400);
    const second = await setup();
    const elsewhere = await authorize(second);
    expect((await acs(s, { SAMLResponse: response, RelayState: elsewhere.relayState })).status).toBe(400);
  });

  it('never links or creates an account by email when the IdP does not vouch for emails', async () => {
    const s = await setup({ emailVerifiedByIdp: false });
    const { member } = await memberWithToken(s.tenant, 'staff');
    const { requestId, relayState } = await authorize(s);
    const back = locationOf(
      await acs(s, { SAMLResponse: signedResponse(s, requestId, { email: member.email }), RelayState: relayState }),
    );
    expect(back.searchParams.get('error')).toBe('access_denied');
    const identities = await database().execute(
      sql`select 1 from user_identities where organization_id = ${s.tenant.organization.id}`,
    );
    expect(identities.rows).toEqual([]);
  });
});

describe('SSO sign-in started at the SAML IdP', () => {
  /** A Response signed by the test IdP that answers no request (what an IdP portal's tile posts). */
  function unsolicited(s: Setup, email: string, inResponseTo?: string) {
    return signedResponse(s, inResponseTo, { email, attributes: { email: [email], name: ['Tile User'] } });
  }

  it('is refused unless the connection opts in with a landing page on the organization’s origins', async () => {
    const tenant = await createTenant({ plan: 'enterprise' });
    const { token } = await memberWithToken(tenant, 'admin');
    const saml = {
      idpEntityId: TEST_IDP_ENTITY_ID,
      ssoUrl: TEST_IDP_SSO_URL,
      signingCertificates: [IDP_CERT],
      allowIdpInitiated: true,
    };
    for (const extra of [{}, { idpInitiatedRedirectUri: 'https://evil.example/landing' }]) {
      const refused = await call(tenant, 'POST', '/api/v1/sso/connections', {
        token,
        body: { type: 'saml', name: 'Tiles', defaultRole: 'staff', saml: { ...saml, ...extra } },
      });
      expect((await problem(refused)).errors).toEqual([
        expect.objectContaining({ pointer: '/body/saml/idpInitiatedRedirectUri' }),
      ]);
    }
  });

  it('signs in from the IdP’s tile onto the landing page, never onto a foreign RelayState, once per response', async () => {
    const s = await setup((tenant) => ({
      allowIdpInitiated: true,
      idpInitiatedRedirectUri: tenant.url('/landing'),
    }));
    expect(s.view.saml).toMatchObject({ allowIdpInitiated: true, idpInitiatedRedirectUri: s.tenant.url('/landing') });
    const email = `tile-${crypto.randomUUID().slice(0, 8)}@acme.example`;

    const response = unsolicited(s, email);
    const tileId = newRequestId();
    const landed = locationOf(await acs(s, { SAMLResponse: response }, { 'x-request-id': tileId }));
    // What an SP-initiated sign-in's ACS costs (asserted above): 3 database and 3 Redis round trips.
    expect(await roundTrips(tileId)).toEqual({ database: 3, redis: 3 });
    expect(landed.origin + landed.pathname).toBe(s.tenant.url('/landing'));
    expect(landed.searchParams.get('state')).toBeNull();
    const exchanged = await call(s.tenant, 'POST', '/api/v1/sso/token', {
      body: { code: landed.searchParams.get('code') },
    });
    expect(exchanged.status, await exchanged.clone().text()).toBe(200);
    expect((await exchanged.json<{ user: { email: string } }>()).user.email).toBe(email);

    // The same response again: the replay cache refuses it.
    const replayed = locationOf(await acs(s, { SAMLResponse: response }));
    expect(replayed.searchParams.get('error')).toBe('access_denied');
    expect(replayed.searchParams.get('code')).toBeNull();

    // A RelayState on the organization's origin is followed; a foreign one is not.
    const deep = locationOf(await acs(s, { SAMLResponse: unsolicited(s, email), RelayState: s.tenant.url('/deep') }));
    expect(deep.origin + deep.pathname).toBe(s.tenant.url('/deep'));
    expect(deep.searchParams.get('code')).toMatch(/^ssoc_/);
    const foreign = locationOf(
      await acs(s, { SAMLResponse: unsolicited(s, email), RelayState: 'https://evil.example/steal' }),
    );
    expect(foreign.origin + foreign.pathname).toBe(s.tenant.url('/landing'));

    // A response to a request this API never made (or whose sign-in expired) is not an IdP-initiated one.
    const stray = locationOf(await acs(s, { SAMLResponse: unsolicited(s, email, '_lost-request-id') }));
    expect(stray.searchParams.get('error')).toBe('access_denied');
  });
});

describe('SSO sign-in with a response from a SAML library’s IdP side', () => {
  it('signs in with the login Response samlify’s IdentityProvider builds and signs for our AuthnRequest', async () => {
    const s = await setup();
    const { requestId, relayState } = await authorize(s);
    const email = `samlify-${crypto.randomUUID().slice(0, 8)}@acme.example`;
    const built = await fetch(`${inject('oidcIssuer')}/__saml/login-response`, {
      method: 'POST',
      body: JSON.stringify({ spEntityId: s.sp.entityId, acsUrl: s.sp.acsUrl, requestId, email }),
    });
    expect(built.status).toBe(200);
    const back = locationOf(await acs(s, { SAMLResponse: await built.text(), RelayState: relayState }));
    expect(back.searchParams.get('error_description')).toBeNull();
    const exchanged = await call(s.tenant, 'POST', '/api/v1/sso/token', {
      body: { code: back.searchParams.get('code') },
    });
    expect(exchanged.status, await exchanged.clone().text()).toBe(200);
    expect((await exchanged.json<{ user: { email: string } }>()).user.email).toBe(email);
  });
});
