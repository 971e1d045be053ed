import { sql } from 'drizzle-orm';
import { describe, expect, inject, it } from 'vitest';
import { BUILT_IN_ROLES, type Permission } from '../../src/services/auth/permissions.ts';
import {
  createTenant,
  database,
  newRequestId,
  otherDatabases,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { atIdp, idpAccount, registerIdpClient } from '../support/oidc.ts';
import { call, memberWithToken } from '../support/users.ts';

/*
 * SCIM 2.0 provisioning, following the request sequences Okta's SCIM test suite and Microsoft Entra ID's
 * provisioning service send (their documented requests, bodies as they write them), with an API key holding
 * `scim:provision` as the bearer token.
 */

const SCIM = 'application/scim+json';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** What the IdP's key may do: provision, and give the staff and organizer roles. */
const KEY_PERMISSIONS: Permission[] = [
  'scim:provision',
  ...new Set([...BUILT_IN_ROLES.staff.permissions, ...BUILT_IN_ROLES.organizer.permissions]),
];

interface Setup {
  tenant: TestTenant;
  key: string;
}

async function setup(
  permissions: Permission[] = KEY_PERMISSIONS,
  plan: 'pro' | 'enterprise' = 'enterprise',
): Promise<Setup> {
  const tenant = await createTenant({ plan });
  const { token } = await memberWithToken(tenant, 'owner');
  const created = await call(tenant, 'POST', '/api/v1/api-keys', {
    token,
    body: { name: 'Okta SCIM', permissions },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  return { tenant, key: (await created.json<{ key: string }>()).key };
}

function scim(s: Setup, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return call(s.tenant, method, `/scim/v2${path}`, {
    token: s.key,
    headers: { 'content-type': SCIM, accept: SCIM, ...headers },
    ...(body === undefined ? {} : { body }),
  });
}

interface ScimUserBody {
  id: string;
  userName: string;
  externalId?: string;
  displayName: string;
  active: boolean;
  groups: { display: string }[];
  meta: { location: string; resourceType: string };
}

interface ScimListBody<T> {
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

async function expectScimError(response: Response, status: number, scimType?: string) {
  expect(response.status, await response.clone().text()).toBe(status);
  expect(response.headers.get('content-type')).toBe(SCIM);
  const body = await response.json<{ schemas: string[]; status: string; scimType?: string; detail: string }>();
  expect(body.schemas).toEqual([ERROR]);
  expect(body.status).toBe(String(status));
  if (scimType !== undefined) expect(body.scimType).toBe(scimType);
  return body;
}

function address(tag: string): string {
  return `${tag}-${crypto.randomUUID().slice(0, 8)}@acme.example`;
}

describe('SCIM 2.0: Okta’s sequence', () => {
  it('finds, creates, reads, deactivates, updates and refuses a duplicate user', async () => {
    const s = await setup();
    const email = address('okta');

    // Okta's connectivity check, then the lookup before a create.
    const probe = await scim(s, 'GET', '/Users?count=1&startIndex=1');
    expect(probe.status).toBe(200);
    expect(probe.headers.get('content-type')).toBe(SCIM);
    const none = await scim(
      s,
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`,
    );
    expect(await none.json<ScimListBody<ScimUserBody>>()).toMatchObject({ totalResults: 0, Resources: [] });

    const created = await scim(s, 'POST', '/Users', {
      schemas: [USER],
      userName: email,
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ primary: true, value: email, type: 'work' }],
      displayName: 'Ada Lovelace',
      locale: 'en-US',
      externalId: '00u1okta',
      groups: [],
      password: '1mP0ssible!',
      active: true,
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const user = await created.json<ScimUserBody>();
    expect(user).toMatchObject({
      userName: email,
      externalId: '00u1okta',
      displayName: 'Ada Lovelace',
      active: true,
      groups: [{ display: 'staff' }],
      meta: { resourceType: 'User' },
    });
    expect(created.headers.get('location')).toBe(user.meta.location);
    expect(user.meta.location).toBe(s.tenant.url(`/scim/v2/Users/${user.id}`));
    // Provisioned, not invited by email: the membership waits for the first SSO sign-in, and the password is not kept.
    const rows = await database().execute<{ status: string; scim_external_id: string; password_hash: string | null }>(
      sql`select m.status, m.scim_external_id, u.password_hash from memberships m join users u on u.id = m.user_id
           where m.organization_id = ${s.tenant.organization.id} and m.user_id = ${user.id}`,
    );
    expect(rows.rows).toEqual([{ status: 'invited', scim_external_id: '00u1okta', password_hash: null }]);
    const tokens = await database().execute<{ n: number }>(
      sql`select count(*)::int as n from user_tokens where user_id = ${user.id}`,
    );
    expect(tokens.rows[0]?.n).toBe(0);

    // One database and one Redis round trip for a read.
    const requestId = newRequestId();
    const read = await scim(s, 'GET', `/Users/${user.id}`, undefined, { 'x-request-id': requestId });
    expect(read.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const found = await scim(s, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${email.toUpperCase()}"`)}`);
    expect((await found.json<ScimListBody<ScimUserBody>>()).Resources.map((r) => r.id)).toEqual([user.id]);

    // Okta deactivates with an object value and no path.
    const deactivated = await scim(s, 'PATCH', `/Users/${user.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    expect(deactivated.status, await deactivated.clone().text()).toBe(200);
    expect((await deactivated.json<ScimUserBody>()).active).toBe(false);

    // And updates the profile with PUT, reactivating.
    const replaced = await scim(s, 'PUT', `/Users/${user.id}`, {
      schemas: [USER],
      userName: email,
      name: { givenName: 'Augusta Ada', familyName: 'King' },
      emails: [{ primary: true, value: email, type: 'work' }],
      externalId: '00u1okta',
      active: true,
    });
    expect(replaced.status, await replaced.clone().text()).toBe(200);
    expect(await replaced.json<ScimUserBody>()).toMatchObject({ displayName: 'Augusta Ada King', active: true });

    // The address is the person's own account's: it cannot be changed by the IdP.
    const renamed = await scim(s, 'PUT', `/Users/${user.id}`, { userName: address('other'), active: true });
    await expectScimError(renamed, 400, 'mutability');

    const duplicate = await scim(s, 'POST', '/Users', { schemas: [USER], userName: email, active: true });
    await expectScimError(duplicate, 409, 'uniqueness');
    await expectScimError(await scim(s, 'GET', `/Users/${crypto.randomUUID()}`), 404);

    const audit = await database().execute<{ action: string; actor_type: string }>(
      sql`select action, actor_type from audit_logs where organization_id = ${s.tenant.organization.id}
           and target_id = ${user.id} order by created_at`,
    );
    expect(audit.rows.map((row) => row.action)).toEqual([
      'membership.provisioned',
      'membership.updated',
      'membership.updated',
    ]);
    expect(new Set(audit.rows.map((row) => row.actor_type))).toEqual(new Set(['api_key']));
  });
});

describe('SCIM 2.0: Entra ID’s sequence', () => {
  it('matches, creates with the enterprise extension, patches with string booleans, and deletes', async () => {
    const s = await setup();
    const upn = address('entra');
    const filter = encodeURIComponent(`userName eq "${upn}"`);
    expect((await (await scim(s, 'GET', `/Users?filter=${filter}`)).json<ScimListBody<unknown>>()).totalResults).toBe(
      0,
    );

    const created = await scim(s, 'POST', '/Users', {
      schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      externalId: 'entra-7f3a',
      userName: upn,
      active: true,
      emails: [{ primary: true, type: 'work', value: upn }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Grace Hopper', familyName: 'Hopper', givenName: 'Grace' },
      roles: [],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Navy' },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const user = await created.json<ScimUserBody>();
    expect(user.displayName).toBe('Grace Hopper');
    const byExternalId = await scim(s, 'GET', `/Users?filter=${encodeURIComponent('externalId eq "entra-7f3a"')}`);
    expect((await byExternalId.json<ScimListBody<ScimUserBody>>()).Resources.map((r) => r.id)).toEqual([user.id]);

    // Entra ID's attribute update: paths, capitalized ops, a work email it may change (ignored: the sign-in address
    // is the userName) and attributes this API does not keep.
    const patched = await scim(s, 'PATCH', `/Users/${user.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: address('alias') },
        { op: 'Replace', path: 'name.familyName', value: 'Hopper-Murray' },
        { op: 'Replace', path: 'name.givenName', value: 'Grace' },
        { op: 'Add', path: 'title', value: 'Rear Admiral' },
        { op: 'Replace', path: 'externalId', value: 'entra-7f3b' },
      ],
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    expect(await patched.json<ScimUserBody>()).toMatchObject({
      userName: upn,
      displayName: 'Grace Hopper-Murray',
      externalId: 'entra-7f3b',
    });

    // Disable with the string boolean Entra ID sends.
    const disabled = await scim(s, 'PATCH', `/Users/${user.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect((await disabled.json<ScimUserBody>()).active).toBe(false);
    const bad = await scim(s, 'PATCH', `/Users/${user.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Replace', path: 'active', value: 'maybe' }],
    });
    await expectScimError(bad, 400, 'invalidValue');

    expect((await scim(s, 'DELETE', `/Users/${user.id}`)).status).toBe(204);
    await expectScimError(await scim(s, 'GET', `/Users/${user.id}`), 404);
    const account = await database().execute<{ n: number }>(
      sql`select count(*)::int as n from users where id = ${user.id}`,
    );
    expect(account.rows[0]?.n).toBe(1);
  });
});

describe('SCIM 2.0: deprovisioning and the rules', () => {
  it('ends a member’s sessions at once when the IdP deactivates or deletes them', async () => {
    const s = await setup();
    const { member, token } = await memberWithToken(s.tenant, 'staff');
    expect((await call(s.tenant, 'GET', '/api/v1/auth/me', { token })).status).toBe(200);
    const deactivated = await scim(s, 'PATCH', `/Users/${member.userId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    expect(deactivated.status, await deactivated.clone().text()).toBe(200);
    expect((await call(s.tenant, 'GET', '/api/v1/auth/me', { token })).status).toBe(401);

    const other = await memberWithToken(s.tenant, 'staff');
    expect((await scim(s, 'DELETE', `/Users/${other.member.userId}`)).status).toBe(204);
    expect((await call(s.tenant, 'GET', '/api/v1/auth/me', { token: other.token })).status).toBe(401);
  });

  it('never reaches owners, roles above the key, other organizations, or callers without scim:provision', async () => {
    const s = await setup();
    const { member: owner } = await memberWithToken(s.tenant, 'owner');
    const { member: admin } = await memberWithToken(s.tenant, 'admin');
    for (const target of [owner, admin]) {
      const refused = await scim(s, 'PATCH', `/Users/${target.userId}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      });
      await expectScimError(refused, 403);
      await expectScimError(await scim(s, 'DELETE', `/Users/${target.userId}`), 403);
    }

    const elsewhere = await setup();
    const { member: stranger } = await memberWithToken(elsewhere.tenant, 'staff');
    await expectScimError(await scim(s, 'GET', `/Users/${stranger.userId}`), 404);
    await expectScimError(await scim(s, 'DELETE', `/Users/${stranger.userId}`), 404);
    // Another organization's groups (its roles) read as absent, and its members cannot be pushed into ours.
    const theirGroups = await (await scim(elsewhere, 'GET', '/Groups')).json<ScimListBody<{ id: string }>>();
    const theirGroup = theirGroups.Resources[0]?.id ?? '';
    expect(theirGroup).not.toBe('');
    await expectScimError(await scim(s, 'GET', `/Groups/${theirGroup}`), 404);
    await expectScimError(
      await scim(s, 'PATCH', `/Groups/${theirGroup}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'add', path: 'members', value: [{ value: stranger.userId }] }],
      }),
      404,
    );
    const ourGroups = await (await scim(s, 'GET', '/Groups')).json<ScimListBody<{ id: string; displayName: string }>>();
    const ourStaff = ourGroups.Resources.find((group) => group.displayName === 'staff')?.id ?? '';
    const pushStranger = await scim(s, 'PATCH', `/Groups/${ourStaff}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: stranger.userId }] }],
    });
    expect(pushStranger.status).toBeGreaterThanOrEqual(400);
    const strangerRow = await database().execute<{ n: number }>(
      sql`select count(*)::int as n from memberships where organization_id = ${s.tenant.organization.id}
           and user_id = ${stranger.userId}`,
    );
    expect(strangerRow.rows[0]?.n).toBe(0);

    const readOnly = await setup(['events:read']);
    await expectScimError(await scim(readOnly, 'GET', '/Users'), 403);
    const anonymous = await call(s.tenant, 'GET', '/scim/v2/Users');
    await expectScimError(anonymous, 401);
    const pro = await setup(KEY_PERMISSIONS, 'pro');
    const withoutSso = await expectScimError(await scim(pro, 'GET', '/Users'), 403);
    expect(withoutSso.detail).toContain('plan');

    await expectScimError(
      await scim(s, 'GET', `/Users?filter=${encodeURIComponent('title co "x"')}`),
      400,
      'invalidFilter',
    );
    await expectScimError(await scim(s, 'POST', '/Users', { userName: 'not-an-address' }), 400, 'invalidValue');
    await expectScimError(await scim(s, 'POST', '/Users', { displayName: 'No name' }), 400);
  });
});

describe('SCIM 2.0: groups are roles', () => {
  it('lists the roles but the owner’s, and gives or takes a role by membership', async () => {
    const s = await setup();
    const list = await scim(s, 'GET', '/Groups');
    const groups = await list.json<ScimListBody<{ id: string; displayName: string; members?: unknown }>>();
    expect(groups.Resources.map((group) => group.displayName)).toEqual(['admin', 'member', 'organizer', 'staff']);
    expect(groups.Resources.every((group) => group.members === undefined)).toBe(true);
    const filtered = await scim(s, 'GET', `/Groups?filter=${encodeURIComponent('displayName eq "organizer"')}`);
    const [organizer] = (await filtered.json<ScimListBody<{ id: string; displayName: string }>>()).Resources;
    expect(organizer?.displayName).toBe('organizer');
    const organizerId = organizer?.id ?? '';

    const { member, token } = await memberWithToken(s.tenant, 'staff');
    const added = await scim(s, 'PATCH', `/Groups/${organizerId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: member.userId }] }],
    });
    expect(added.status, await added.clone().text()).toBe(204);
    const group = await (await scim(s, 'GET', `/Groups/${organizerId}`)).json<{ members: { value: string }[] }>();
    expect(group.members.map((entry) => entry.value)).toEqual([member.userId]);
    const user = await (await scim(s, 'GET', `/Users/${member.userId}`)).json<ScimUserBody>();
    expect(user.groups).toEqual([expect.objectContaining({ display: 'organizer' })]);
    // A role change ends the member's sessions, as PUT /api/v1/users/{id} does.
    expect((await call(s.tenant, 'GET', '/api/v1/auth/me', { token })).status).toBe(401);

    // Entra ID removes with a filtered path.
    const removed = await scim(s, 'PATCH', `/Groups/${organizerId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Remove', path: `members[value eq "${member.userId}"]` }],
    });
    expect(removed.status).toBe(204);
    const after = await (await scim(s, 'GET', `/Users/${member.userId}`)).json<ScimUserBody>();
    expect(after.groups).toEqual([expect.objectContaining({ display: 'staff' })]);

    // Roles the key cannot give, renames and the owner role are out of reach.
    const admin = groups.Resources.find((entry) => entry.displayName === 'admin');
    const escalate = await scim(s, 'PATCH', `/Groups/${admin?.id ?? ''}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: member.userId }] }],
    });
    await expectScimError(escalate, 403);
    const rename = await scim(s, 'PATCH', `/Groups/${organizerId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'displayName', value: 'bosses' }],
    });
    await expectScimError(rename, 400, 'mutability');
    const ownerRole = await database().execute<{ id: string }>(
      sql`select id from roles where organization_id = ${s.tenant.organization.id} and key = 'owner'`,
    );
    await expectScimError(await scim(s, 'GET', `/Groups/${ownerRole.rows[0]?.id ?? ''}`), 404);
  });

  it('keeps the members API’s round trips: reads one, writes a read and one batch, a session end one more', async () => {
    const s = await setup();
    const traced = async (method: string, path: string, body?: unknown) => {
      const requestId = newRequestId();
      const response = await scim(s, method, path, body, { 'x-request-id': requestId });
      expect(response.status, await response.clone().text()).toBeLessThan(300);
      return { response, trips: await roundTrips(requestId) };
    };
    // The host's first request looks its organization up; the key's first use records itself after the response.
    await traced('GET', '/Users?count=1');
    const read = { database: 1, redis: 1 };
    expect((await traced('GET', '/Users?count=10')).trips).toEqual(read);
    const email = address('budget');
    expect((await traced('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`)).trips).toEqual(read);

    // A create is the invitation's read and its write batch, answered from what it wrote.
    const created = await traced('POST', '/Users', { schemas: [USER], userName: email, externalId: 'budget-1' });
    expect(created.trips).toEqual({ database: 2, redis: 1 });
    const user = await created.response.json<ScimUserBody & { meta: { lastModified: string } }>();
    expect((await traced('GET', `/Users/${user.id}`)).trips).toEqual(read);

    // PUT and PATCH: the member read once (to check the change), then the members API's write batch.
    const replaced = await traced('PUT', `/Users/${user.id}`, {
      schemas: [USER],
      userName: email,
      displayName: 'Budget Person',
      externalId: 'budget-2',
      active: true,
    });
    expect(replaced.trips).toEqual({ database: 2, redis: 1 });
    const answer = await replaced.response.json<ScimUserBody & { meta: { lastModified: string } }>();
    // The answer is the row as written: the same as a fresh read.
    const fresh = await (await scim(s, 'GET', `/Users/${user.id}`)).json<ScimUserBody>();
    expect(answer).toEqual(fresh);
    expect(answer).toMatchObject({ displayName: 'Budget Person', externalId: 'budget-2', active: true });
    expect(Date.parse(answer.meta.lastModified)).toBeGreaterThan(Date.parse(user.meta.lastModified));
    // A disable ends the member's sessions: on every database the account lives on, and their tokens in Redis.
    const disabled = await traced('PATCH', `/Users/${user.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    expect(disabled.trips).toEqual({ database: 2 + otherDatabases(), redis: 2 });
    expect(await disabled.response.json<ScimUserBody>()).toEqual(
      await (await scim(s, 'GET', `/Users/${user.id}`)).json<ScimUserBody>(),
    );

    // Groups read in one round trip; DELETE costs what DELETE /api/v1/users/{id} does.
    expect((await traced('GET', '/Groups')).trips).toEqual(read);
    expect((await traced('DELETE', `/Users/${user.id}`)).trips).toEqual({
      database: 2 + otherDatabases(),
      redis: 2,
    });
    expect((await traced('GET', '/ServiceProviderConfig')).trips).toEqual({ database: 0, redis: 1 });
  });

  it('tells what it offers (ServiceProviderConfig)', async () => {
    const s = await setup();
    const response = await scim(s, 'GET', '/ServiceProviderConfig');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 100 },
      authenticationSchemes: [expect.objectContaining({ type: 'oauthbearertoken' })],
    });
  });
});

describe('SCIM 2.0 with SSO', () => {
  it('lets a provisioned member in through the organization’s SSO, which activates the membership', async () => {
    const s = await setup();
    const { token: admin } = await memberWithToken(s.tenant, 'admin');
    const callbackUrl = s.tenant.url('/api/v1/sso/callback');
    const issuer = inject('oidcIssuer');
    const client = await registerIdpClient(issuer, callbackUrl);
    // No just-in-time provisioning: only members the directory provisioned sign in.
    const connection = await call(s.tenant, 'POST', '/api/v1/sso/connections', {
      token: admin,
      body: {
        type: 'oidc',
        name: 'Directory',
        jit: false,
        defaultRole: 'staff',
        oidc: { issuer, clientId: client.client_id, clientSecret: client.client_secret },
      },
    });
    expect(connection.status, await connection.clone().text()).toBe(201);
    const { id: connectionId } = await connection.json<{ id: string }>();

    const email = address('sso');
    const sub = `sub-${crypto.randomUUID()}`;
    await idpAccount({ sub, email, email_verified: true, name: 'Dir Member' });
    const signIn = async () => {
      const started = await call(s.tenant, 'POST', '/api/v1/sso/authorize', {
        body: { connectionId, redirectUri: s.tenant.url('/signed-in'), loginHint: sub },
      });
      const { authorizationUrl } = await started.json<{ authorizationUrl: string }>();
      const back = await atIdp(authorizationUrl, callbackUrl);
      const finished = await request(back, { redirect: 'manual' });
      return new URL(finished.headers.get('location') ?? '');
    };
    expect((await signIn()).searchParams.get('error')).toBe('access_denied');

    const created = await scim(s, 'POST', '/Users', { schemas: [USER], userName: email, externalId: sub });
    const user = await created.json<ScimUserBody>();
    const back = await signIn();
    expect(back.searchParams.get('error_description')).toBeNull();
    const session = await call(s.tenant, 'POST', '/api/v1/sso/token', {
      body: { code: back.searchParams.get('code') },
    });
    expect(session.status).toBe(200);
    const status = await database().execute<{ status: string }>(
      sql`select status from memberships where organization_id = ${s.tenant.organization.id} and user_id = ${user.id}`,
    );
    expect(status.rows).toEqual([{ status: 'active' }]);
  });
});
