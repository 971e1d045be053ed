import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships, passkeys, refreshTokens } from '../../src/db/schema/index.ts';
import type { PasskeyResponse } from '../../src/routes/passkeys/create.ts';
import type { RegistrationOptionsResponse } from '../../src/routes/passkeys/registration-options.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import { MAX_PASSKEYS_PER_USER, passkeyRegistrationOptions } from '../../src/services/auth/passkeys.ts';
import { issueAccessToken } from '../../src/services/auth/tokens.ts';
import {
  auditRows,
  bindings,
  claimsOf,
  loginAs,
  mailbox,
  post,
  randomIp,
  waitForAudits,
  waitForMail,
} from '../support/auth.ts';
import {
  bearer,
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
import {
  addPasskey,
  authenticatorFor,
  base64urlText,
  FLAGS,
  listPasskeys,
  PASSKEYS_PATH,
  registerPasskey,
  registrationOptions,
  registrationOptionsOf,
  signInOptions,
  tampered,
  type SoftwareAuthenticator,
} from '../support/webauthn.ts';
import { serviceContextFor } from '../support/users.ts';

/** An access token whose sign-in was an hour ago: too old for step-up. */
async function staleToken(tenant: TestTenant, member: TestMember): Promise<string> {
  const { token } = await issueAccessToken(bindings().JWT_SIGNING_KEYS, bindings().ROOT_DOMAIN, {
    userId: member.userId,
    tenant: tenant.organization.id,
    sessionId: crypto.randomUUID(),
    role: member.role,
    permissions: [],
    emailVerified: true,
    authTime: Math.floor(Date.now() / 1000) - 3600,
  });
  return token;
}

async function setup(role = 'member') {
  const tenant = await createTenant();
  const member = await createMember(tenant, role);
  return { tenant, member, token: await tokenFor(tenant, member) };
}

describe('registering a passkey', () => {
  it('gives options for this host and user, registers the passkey, audits it and emails the user', async () => {
    const { tenant, member } = await setup();
    const { accessToken: token } = await loginAs(tenant, member);
    // A first request makes the host known to this isolate (the tenant lookup is not the route's to pay).
    await listPasskeys(tenant, token);
    const optionsId = newRequestId();
    const optionsResponse = await registrationOptions(tenant, token, { 'x-request-id': optionsId });
    expect(optionsResponse.status).toBe(200);
    const created: RegistrationOptionsResponse = await optionsResponse.json();
    expect(created.rp).toEqual({ name: tenant.organization.name, id: tenant.host });
    expect(created.user.name).toBe(member.email);
    expect(created.excludeCredentials).toEqual([]);
    expect(created.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(created.attestation).toBe('none');
    expect(await roundTrips(optionsId)).toEqual({ database: 1, redis: 2 });

    const authenticator = await authenticatorFor(tenant, { synced: true });
    const registerId = newRequestId();
    const response = await registerPasskey(
      tenant,
      token,
      { name: 'MacBook Touch ID', response: await authenticator.register(created) },
      { 'x-request-id': registerId },
    );
    expect(response.status).toBe(201);
    const passkey: PasskeyResponse = await response.json();
    expect(passkey).toMatchObject({
      name: 'MacBook Touch ID',
      deviceType: 'multiDevice',
      backedUp: true,
      transports: ['internal', 'hybrid'],
      lastUsedAt: null,
    });
    expect(await roundTrips(registerId)).toEqual({ database: 1, redis: 2 });

    const [row] = await database().select().from(passkeys).where(eq(passkeys.id, passkey.id));
    expect(row).toMatchObject({
      organizationId: tenant.organization.id,
      userId: member.userId,
      credentialId: authenticator.credentialId,
      counter: 0,
      aaguid: '00000000-0000-0000-0000-000000000000',
    });
    expect((await listPasskeys(tenant, token)).data).toEqual([passkey]);
    const [audit] = await auditRows(tenant.organization.id, 'auth.passkey_added');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: member.userId });
    expect(audit?.metadata).toMatchObject({ passkeyId: passkey.id, name: 'MacBook Touch ID' });
    const mail = await waitForMail(member.email);
    expect(mail.subject).toBe(`A passkey was added to your ${tenant.organization.name} account`);
    expect(mail.text).toContain('“MacBook Touch ID”');
    expect(mail.links).toEqual([]);

    // The next options exclude it, and a second registration of the same credential is a conflict.
    const next = await registrationOptionsOf(tenant, token);
    expect(next.excludeCredentials).toEqual([
      { id: authenticator.credentialId, type: 'public-key', transports: ['internal', 'hybrid'] },
    ]);
    const again = await registerPasskey(tenant, token, { name: 'Again', response: await authenticator.register(next) });
    expect(again.status).toBe(409);
    expect((await problem(again)).code).toBe('conflict');
    expect(await auditRows(tenant.organization.id, 'auth.passkey_added')).toHaveLength(1);
  });

  it('needs a recent sign-in for options, registration and removal', async () => {
    const { tenant, member, token } = await setup();
    const passkey = await addPasskey(tenant, token, await authenticatorFor(tenant));
    const stale = await staleToken(tenant, member);
    const refusals = await Promise.all([
      registrationOptions(tenant, stale),
      registerPasskey(tenant, stale, { name: 'x', response: {} }),
      request(tenant.url(`${PASSKEYS_PATH}/${passkey.id}`), { method: 'DELETE', headers: bearer(stale) }),
    ]);
    for (const refusal of refusals) {
      expect(refusal.status).toBe(401);
      expect((await problem(refusal)).code).toBe('reauthentication_required');
    }
    // Listing and renaming are not sensitive.
    expect((await listPasskeys(tenant, stale)).data).toHaveLength(1);
    const renamed = await request(tenant.url(`${PASSKEYS_PATH}/${passkey.id}`), {
      method: 'PUT',
      headers: bearer(stale),
      body: JSON.stringify({ name: ' Phone ' }),
    });
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ id: passkey.id, name: 'Phone' });
  });

  it('answers 401 to anonymous callers and 404 on the platform host', async () => {
    const { tenant } = await setup();
    expect((await request(tenant.url(PASSKEYS_PATH))).status).toBe(401);
    expect((await post(tenant.url(`${PASSKEYS_PATH}/registration-options`), {})).status).toBe(401);
    expect((await request(`http://localhost${PASSKEYS_PATH}`)).status).toBe(404);
  });

  it('answers 503 while the WebAuthn Worker cannot be reached', async () => {
    const { tenant, token } = await setup();
    const { ctx } = await serviceContextFor(tenant, token);
    // The WEBAUTHN binding as it fails when the WebAuthn Worker is not deployed or crashed.
    const failing = () => Promise.reject(new Error('Worker "eventra-webauthn-local" not found'));
    const worker = { registrationOptions: failing } as unknown as typeof ctx.bindings.WEBAUTHN;
    const origin = tenant.url('/').replace(/\/$/, '');
    const error: unknown = await passkeyRegistrationOptions({
      ctx: { ...ctx, origin, bindings: { ...ctx.bindings, WEBAUTHN: worker } },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'service_unavailable', status: 503 });
    // With the real Worker behind the binding, the same call gives options.
    const options = await passkeyRegistrationOptions({ ctx: { ...ctx, origin } });
    expect(options.rp.id).toBe(new URL(origin).hostname);
  });

  it('refuses responses with a wrong origin, RP ID, challenge, type or no user verification (400)', async () => {
    const { tenant, token } = await setup();
    const authenticator = await authenticatorFor(tenant);
    const cases: [string, Parameters<SoftwareAuthenticator['register']>[1]][] = [
      ['origin', { origin: 'http://evil.localhost' }],
      ['RP ID', { rpId: 'evil.localhost' }],
      ['type', { type: 'webauthn.get' }],
      ['user verification', { flags: FLAGS.up }],
      ['attestation signature', { forgedAttestation: true }],
    ];
    for (const [what, overrides] of cases) {
      const response = await registerPasskey(tenant, token, {
        name: what,
        response: await authenticator.register(await registrationOptionsOf(tenant, token), overrides),
      });
      expect(response.status, what).toBe(400);
      const body = await problem(response);
      expect(body.code, what).toBe('invalid_passkey');
    }
    // A challenge nobody issued, and one that was used already.
    const unknown = await registerPasskey(tenant, token, {
      name: 'x',
      response: await authenticator.register(await registrationOptionsOf(tenant, token), {
        challenge: 'bm90LWlzc3VlZA',
      }),
    });
    expect((await problem(unknown)).detail).toMatch(/challenge is unknown, used or expired/);
    const fresh = await authenticator.register(await registrationOptionsOf(tenant, token));
    expect((await registerPasskey(tenant, token, { name: 'once', response: fresh })).status).toBe(201);
    const replay = await registerPasskey(tenant, token, { name: 'twice', response: fresh });
    expect(replay.status).toBe(400);
    expect((await problem(replay)).code).toBe('invalid_passkey');
    expect((await listPasskeys(tenant, token)).data.map((passkey) => passkey.name)).toEqual(['once']);
  });

  it("refuses a challenge issued to another user or on another organization's host", async () => {
    const { tenant, token } = await setup();
    const other = await createMember(tenant, 'member');
    const otherToken = await tokenFor(tenant, other);
    const authenticator = await authenticatorFor(tenant);
    const response = await authenticator.register(await registrationOptionsOf(tenant, token));
    const stolen = await registerPasskey(tenant, otherToken, { name: 'x', response });
    expect(stolen.status).toBe(400);

    const elsewhere = await createTenant();
    const stranger = await createMember(elsewhere, 'member');
    const strangerToken = await tokenFor(elsewhere, stranger);
    const foreign = await authenticatorFor(elsewhere);
    const crossed = await registerPasskey(tenant, token, {
      name: 'x',
      response: await foreign.register(await registrationOptionsOf(elsewhere, strangerToken)),
    });
    expect(crossed.status).toBe(400);
    expect(await database().select().from(passkeys).where(eq(passkeys.userId, other.userId))).toEqual([]);
  });

  it('answers malformed base64url, client data and CBOR with 400 problems', async () => {
    const { tenant, token } = await setup();
    const authenticator = await authenticatorFor(tenant);
    const valid = await authenticator.register(await registrationOptionsOf(tenant, token));
    const bodies = [
      { ...valid, response: { ...valid.response, clientDataJSON: 'not base64url!' } },
      { ...valid, response: { ...valid.response, clientDataJSON: base64urlText('{"type":"webauthn.create"}') } },
      { ...valid, response: { ...valid.response, clientDataJSON: base64urlText('not json') } },
      { ...valid, response: { ...valid.response, attestationObject: base64urlText('not cbor at all') } },
      { ...valid, response: { ...valid.response, attestationObject: tampered(valid.response.attestationObject) } },
      { ...valid, type: 'password' },
      { ...valid, extra: true },
    ];
    for (const [index, response] of bodies.entries()) {
      const answer = await registerPasskey(tenant, token, { name: 'x', response });
      expect(answer.status, `body ${index}`).toBe(400);
      expect(['invalid_passkey', 'validation_failed']).toContain((await problem(answer)).code);
    }
    expect((await listPasskeys(tenant, token)).data).toEqual([]);
  });

  it('refuses more than the most passkeys a user may hold, and a session whose membership ended', async () => {
    const { tenant, member, token } = await setup();
    await database()
      .insert(passkeys)
      .values(
        Array.from({ length: MAX_PASSKEYS_PER_USER }, (_, index) => ({
          organizationId: tenant.organization.id,
          userId: member.userId,
          credentialId: `credential-${index}`,
          publicKey: 'pk',
          deviceType: 'singleDevice',
          backedUp: false,
          name: `Key ${index}`,
          aaguid: '00000000-0000-0000-0000-000000000000',
        })),
      );
    const full = await registrationOptions(tenant, token);
    expect(full.status).toBe(409);
    expect((await problem(full)).code).toBe('conflict');

    await database()
      .delete(memberships)
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    const ended = await registrationOptions(tenant, token);
    expect(ended.status).toBe(401);
  });
});

describe('listing, renaming and removing passkeys', () => {
  it("shows only the user's own passkeys here and answers 404 for another user's or organization's", async () => {
    const { tenant, member, token } = await setup();
    // A browser that reports no transports (they are optional hints).
    const created = await (await authenticatorFor(tenant)).register(await registrationOptionsOf(tenant, token));
    const { transports: _omitted, ...withoutTransports } = created.response;
    const added = await registerPasskey(tenant, token, {
      name: 'Mine',
      response: { ...created, response: withoutTransports },
    });
    expect(added.status).toBe(201);
    const mine = await added.json<PasskeyResponse>();
    expect(mine.transports).toEqual([]);
    const other = await createMember(tenant, 'member');
    const otherToken = await tokenFor(tenant, other);
    const theirs = await addPasskey(tenant, otherToken, await authenticatorFor(tenant), 'Theirs');
    expect((await listPasskeys(tenant, token)).data.map((passkey) => passkey.name)).toEqual(['Mine']);

    const elsewhere = await createTenant();
    const foreignMember = await createMember(elsewhere, 'member');
    const foreign = await addPasskey(
      elsewhere,
      await tokenFor(elsewhere, foreignMember),
      await authenticatorFor(elsewhere),
    );

    for (const id of [theirs.id, foreign.id, crypto.randomUUID()]) {
      const renamed = await request(tenant.url(`${PASSKEYS_PATH}/${id}`), {
        method: 'PUT',
        headers: bearer(token),
        body: JSON.stringify({ name: 'Taken' }),
      });
      expect(renamed.status).toBe(404);
      const removed = await request(tenant.url(`${PASSKEYS_PATH}/${id}`), { method: 'DELETE', headers: bearer(token) });
      expect(removed.status).toBe(404);
    }
    expect((await listPasskeys(tenant, otherToken)).data.map((passkey) => passkey.name)).toEqual(['Theirs']);

    const removed = await request(tenant.url(`${PASSKEYS_PATH}/${mine.id}`), {
      method: 'DELETE',
      headers: bearer(token),
    });
    expect(removed.status).toBe(204);
    expect((await listPasskeys(tenant, token)).data).toEqual([]);
    const [audit] = await auditRows(tenant.organization.id, 'auth.passkey_removed');
    expect(audit).toMatchObject({ actorUserId: member.userId });
    expect(audit?.metadata).toMatchObject({ passkeyId: mine.id });
    expect(await auditRows(tenant.organization.id, 'auth.passkey_removed')).toHaveLength(1);
    const invalidName = await request(tenant.url(`${PASSKEYS_PATH}/${theirs.id}`), {
      method: 'PUT',
      headers: bearer(otherToken),
      body: JSON.stringify({ name: 'a\u0000b' }),
    });
    expect(invalidName.status).toBe(400);
  });
});

describe('signing in with a passkey', () => {
  function signIn(tenant: TestTenant, response: unknown, ip = randomIp(), headers: Record<string, string> = {}) {
    return post(tenant.url(`${PASSKEYS_PATH}/sign-in`), { response }, headers, ip);
  }

  async function enrolled(options: { synced?: boolean; counter?: number } = {}) {
    const { tenant, member, token } = await setup('organizer');
    const authenticator = await authenticatorFor(tenant, options);
    const passkey = await addPasskey(tenant, token, authenticator);
    return { tenant, member, authenticator, passkey };
  }

  it('signs in passwordless with a session whose amr is hwk, user, mfa, in the stated round trips', async () => {
    const { tenant, member, authenticator, passkey } = await enrolled({ counter: 5 });
    const optionsId = newRequestId();
    const ip = randomIp();
    const challenge = await signInOptions(tenant, ip, { 'x-request-id': optionsId });
    expect(challenge).toMatchObject({ rpId: tenant.host, allowCredentials: [], userVerification: 'required' });
    expect(await roundTrips(optionsId)).toEqual({ database: 0, redis: 1 });

    const signInId = newRequestId();
    const response = await signIn(tenant, await authenticator.authenticate(challenge), ip, {
      'x-request-id': signInId,
    });
    expect(response.status).toBe(200);
    const session = await response.json<{ accessToken: string; refreshToken: string; user: { id: string } }>();
    expect(session.user.id).toBe(member.userId);
    const claims = claimsOf(session.accessToken);
    expect(claims).toMatchObject({ sub: member.userId, amr: ['hwk', 'user', 'mfa'], role: 'organizer' });
    expect(Math.abs((claims.auth_time as number) - Date.now() / 1000)).toBeLessThan(30);
    expect(await roundTrips(signInId)).toEqual({ database: 2, redis: 1 });

    const [family] = await database()
      .select({ amr: refreshTokens.amr })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, member.userId));
    expect(family?.amr).toEqual(['hwk', 'user', 'mfa']);
    const refreshed = await post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken: session.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(claimsOf((await refreshed.json<{ accessToken: string }>()).accessToken).amr).toEqual(['hwk', 'user', 'mfa']);
    // A fresh passkey sign-in is recent enough for step-up.
    expect((await registrationOptions(tenant, session.accessToken)).status).toBe(200);

    const [row] = await database().select().from(passkeys).where(eq(passkeys.id, passkey.id));
    expect(row?.counter).toBe(6);
    expect(row?.lastUsedAt).not.toBeNull();
    const [audit] = await auditRows(tenant.organization.id, 'auth.login');
    expect(audit?.metadata).toMatchObject({ method: 'passkey', passkeyId: passkey.id });
    const [membership] = await database()
      .select({ lastLoginAt: memberships.lastLoginAt })
      .from(memberships)
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    expect(membership?.lastLoginAt).not.toBeNull();
  });

  it('refuses a used, unknown or misbound challenge, wrong origin, RP ID, signature or user verification (401)', async () => {
    const { tenant, authenticator } = await enrolled();
    const used = await authenticator.authenticate(await signInOptions(tenant));
    expect((await signIn(tenant, used)).status).toBe(200);
    const cases: [string, unknown][] = [
      ['reused challenge', used],
      ['unknown challenge', await authenticator.authenticate({ challenge: 'bm90LWlzc3VlZA' })],
      ['origin', await authenticator.authenticate(await signInOptions(tenant), { origin: 'http://evil.localhost' })],
      ['RP ID', await authenticator.authenticate(await signInOptions(tenant), { rpId: 'evil.localhost' })],
      ['type', await authenticator.authenticate(await signInOptions(tenant), { type: 'webauthn.create' })],
      ['no user verification', await authenticator.authenticate(await signInOptions(tenant), { flags: FLAGS.up })],
    ];
    const valid = await authenticator.authenticate(await signInOptions(tenant));
    cases.push([
      'signature',
      { ...valid, response: { ...valid.response, signature: tampered(valid.response.signature) } },
    ]);
    const other = await authenticator.authenticate(await signInOptions(tenant));
    cases.push([
      'user handle',
      { ...other, response: { ...other.response, userHandle: base64urlText(crypto.randomUUID()) } },
    ]);
    const unknown = await authenticator.authenticate(await signInOptions(tenant));
    cases.push(['unknown credential', { ...unknown, id: 'dW5rbm93bg', rawId: 'dW5rbm93bg' }]);
    for (const [what, response] of cases) {
      const answer = await signIn(tenant, response);
      expect(answer.status, what).toBe(401);
      expect((await problem(answer)).code, what).toBe('invalid_credentials');
    }
  });

  it("refuses a challenge of registration, and one of another organization's host", async () => {
    const { tenant, member, authenticator } = await enrolled();
    const registration = await registrationOptionsOf(tenant, await tokenFor(tenant, member));
    const crossed = await signIn(tenant, await authenticator.authenticate(registration));
    expect(crossed.status).toBe(401);

    // The same credential presented on another organization's host, with that host's own challenge.
    const elsewhere = await createTenant();
    const foreign = await authenticator.authenticate(await signInOptions(elsewhere), {
      rpId: elsewhere.host,
      origin: `http://${elsewhere.host}`,
    });
    expect((await signIn(elsewhere, foreign)).status).toBe(401);
    // And a challenge issued on the other host, answered here.
    const elsewhereChallenge = await authenticator.authenticate(await signInOptions(elsewhere));
    expect((await signIn(tenant, elsewhereChallenge)).status).toBe(401);
  });

  it('refuses a counter that did not increase, and audits it as a possible clone', async () => {
    const { tenant, member, authenticator, passkey } = await enrolled({ counter: 10 });
    expect((await signIn(tenant, await authenticator.authenticate(await signInOptions(tenant)))).status).toBe(200);
    for (const counter of [11, 3, 0]) {
      const replayed = await signIn(tenant, await authenticator.authenticate(await signInOptions(tenant), { counter }));
      expect(replayed.status, `counter ${counter}`).toBe(401);
    }
    const audits = await waitForAudits(tenant.organization.id, 'auth.passkey_counter_regressed', 3);
    expect(audits[0]).toMatchObject({ targetId: member.userId, actorType: 'anonymous' });
    expect(audits.map((row) => (row.metadata as { reportedCounter: number }).reportedCounter).sort()).toEqual([
      0, 11, 3,
    ]);
    expect(audits[0]?.metadata).toMatchObject({ passkeyId: passkey.id, storedCounter: 11 });
    const [row] = await database().select().from(passkeys).where(eq(passkeys.id, passkey.id));
    expect(row?.counter).toBe(11);
    // An authenticator without a counter (0 every time) signs in again and again.
    const { tenant: synced, authenticator: counterless } = await enrolled({ synced: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      expect((await signIn(synced, await counterless.authenticate(await signInOptions(synced)))).status).toBe(200);
    }
  });

  it('lets only one of concurrent assertions with the same counter win', async () => {
    const { tenant, authenticator } = await enrolled({ counter: 1 });
    const challenges = await Promise.all(Array.from({ length: 4 }, () => signInOptions(tenant)));
    const responses = await Promise.all(
      challenges.map((challenge) => authenticator.authenticate(challenge, { counter: 7 })),
    );
    const answers = await Promise.all(responses.map((response) => signIn(tenant, response)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401, 401, 401]);
  });

  it('refuses an assertion whose counter was overtaken between its check and its use (401, no session)', async () => {
    const { tenant, authenticator, passkey } = await enrolled({ counter: 1 });
    const response = await authenticator.authenticate(await signInOptions(tenant), { counter: 7 });
    // Another sign-in holds the passkey's row and takes counter 7 while this one is verified: the read still sees 1,
    // so the signature and the counter check pass, and the conditional bump that follows waits for the row, then
    // finds the counter no longer below 7 and stores nothing.
    const db = database();
    const overtaking = db.batch([
      db.execute(sql`select id from passkeys where id = ${passkey.id} for update`),
      db.execute(sql`select pg_sleep(1.5)`),
      db.update(passkeys).set({ counter: 7 }).where(eq(passkeys.id, passkey.id)),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [answer] = await Promise.all([signIn(tenant, response), overtaking]);
    expect(answer.status).toBe(401);
    const families = await database()
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.organizationId, tenant.organization.id));
    expect(families.filter((row) => row.amr.includes('hwk'))).toEqual([]);
  });

  it('refuses a disabled member and malformed client data', async () => {
    const { tenant, member, authenticator } = await enrolled();
    await database()
      .update(memberships)
      .set({ status: 'disabled' })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    expect((await signIn(tenant, await authenticator.authenticate(await signInOptions(tenant)))).status).toBe(401);
    const valid = await authenticator.authenticate(await signInOptions(tenant));
    for (const clientDataJSON of ['%%%', base64urlText('{}'), base64urlText('[')]) {
      const answer = await signIn(tenant, { ...valid, response: { ...valid.response, clientDataJSON } });
      expect(answer.status).toBe(400);
    }
  });

  it('shares the per-address sign-in limit with the password sign-in', async () => {
    const tenant = await createTenant();
    const ip = randomIp();
    for (let attempt = 0; attempt < 30; attempt++) {
      expect((await post(tenant.url(`${PASSKEYS_PATH}/sign-in-options`), {}, {}, ip)).status).toBe(200);
    }
    const limited = await post(tenant.url(`${PASSKEYS_PATH}/sign-in-options`), {}, {}, ip);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).not.toBeNull();
    const login = await post(tenant.url('/api/v1/auth/login'), { email: 'x@example.test', password: 'x' }, {}, ip);
    expect(login.status).toBe(429);
    expect(await mailbox('x@example.test')).toEqual([]);
  });
});
