import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { mfaTotp, passkeys, refreshTokens } from '../../src/db/schema/index.ts';
import type { VerifyMfaWithPasskeyResponse } from '../../src/routes/passkeys/mfa-verify.ts';
import type { ReauthenticateWithPasskeyResponse } from '../../src/routes/passkeys/reauthenticate.ts';
import { issueChallenge } from '../../src/services/auth/mfa-challenge.ts';
import { auditRows, bindings, claimsOf, loginAs, post, randomIp, waitForAudits } from '../support/auth.ts';
import {
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  roundTrips,
  tokenFor,
  type TestMember,
  type TestTenant,
} from '../support/harness.ts';
import {
  addPasskey,
  authenticatorFor,
  registrationOptions,
  signInOptions,
  type SoftwareAuthenticator,
} from '../support/webauthn.ts';

interface Options {
  challenge: string;
  allowCredentials: { id: string }[];
  rpId: string;
}

/** A member with TOTP confirmed (so a password sign-in asks for a second factor) and a passkey here. */
async function enrolled(tenant: TestTenant, options: { counter?: number } = {}) {
  const member = await createMember(tenant, 'organizer');
  const authenticator = await authenticatorFor(tenant, options);
  const passkey = await addPasskey(tenant, await tokenFor(tenant, member), authenticator);
  await database().insert(mfaTotp).values({
    organizationId: tenant.organization.id,
    userId: member.userId,
    // Never decrypted here: only the passkey completes these sign-ins.
    secretCiphertext: 'v1.unused.unused',
    confirmedAt: new Date(),
  });
  return { member, authenticator, passkey };
}

async function mfaToken(tenant: TestTenant, member: TestMember): Promise<string> {
  const response = await post(tenant.url('/api/v1/auth/login'), { email: member.email, password: member.password });
  expect(response.status).toBe(200);
  const body = await response.json<{ mfaRequired: boolean; mfaToken: string }>();
  expect(body.mfaRequired).toBe(true);
  return body.mfaToken;
}

function mfaOptions(tenant: TestTenant, token: string) {
  return post(tenant.url('/api/v1/auth/mfa/webauthn/options'), { mfaToken: token });
}

async function mfaOptionsOf(tenant: TestTenant, token: string): Promise<Options> {
  const response = await mfaOptions(tenant, token);
  expect(response.status).toBe(200);
  return response.json();
}

function mfaVerify(tenant: TestTenant, token: string, response: unknown, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/mfa/webauthn/verify'), { mfaToken: token, response }, headers);
}

describe('a passkey as the second factor of a sign-in', () => {
  it('completes the MFA challenge with amr pwd, hwk, user, mfa, once', async () => {
    const tenant = await createTenant();
    const { member, authenticator, passkey } = await enrolled(tenant, { counter: 3 });
    const token = await mfaToken(tenant, member);
    const options = await mfaOptionsOf(tenant, token);
    expect(options.rpId).toBe(tenant.host);
    expect(options.allowCredentials.map((credential) => credential.id)).toEqual([authenticator.credentialId]);

    const requestId = newRequestId();
    const response = await mfaVerify(tenant, token, await authenticator.authenticate(options), {
      'x-request-id': requestId,
    });
    expect(response.status).toBe(200);
    const session: VerifyMfaWithPasskeyResponse = await response.json();
    expect(claimsOf(session.accessToken)).toMatchObject({ sub: member.userId, amr: ['pwd', 'hwk', 'user', 'mfa'] });
    expect(session.refreshToken).toMatch(/^rt_/);
    // The passkey (counter and public key) is read, then one statement completes the challenge.
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 1 });
    const [row] = await database().select().from(passkeys).where(eq(passkeys.id, passkey.id));
    expect(row?.counter).toBe(4);
    expect(row?.lastUsedAt).not.toBeNull();
    const [audit] = await auditRows(tenant.organization.id, 'auth.mfa_verified');
    expect(audit?.metadata).toMatchObject({ method: 'webauthn', passkeyId: passkey.id });

    // The challenge is spent: a new assertion of the same options is refused and nothing is advanced.
    const again = await mfaVerify(tenant, token, await authenticator.authenticate(options));
    expect(again.status).toBe(401);
    expect((await problem(again)).code).toBe('mfa_challenge_invalid');
    const [after] = await database().select().from(passkeys).where(eq(passkeys.id, passkey.id));
    expect(after?.counter).toBe(4);
  });

  it('asks a member whose only factor is a passkey for it at password sign-in (methods: webauthn), then signs in', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const authenticator = await authenticatorFor(tenant);
    await addPasskey(tenant, await tokenFor(tenant, member), authenticator);
    const login = await post(tenant.url('/api/v1/auth/login'), { email: member.email, password: member.password });
    expect(login.status).toBe(200);
    const challenge = await login.json<{ mfaRequired: boolean; mfaToken: string; methods: string[] }>();
    expect(challenge).toMatchObject({ mfaRequired: true, methods: ['webauthn'] });
    expect(challenge).not.toHaveProperty('accessToken');
    // No TOTP here: a code cannot complete it.
    const code = await post(tenant.url('/api/v1/auth/mfa/verify'), {
      mfaToken: challenge.mfaToken,
      method: 'totp',
      code: '123456',
    });
    expect(code.status).toBe(401);
    expect((await problem(code)).code).toBe('invalid_mfa_code');
    const options = await mfaOptionsOf(tenant, challenge.mfaToken);
    const response = await mfaVerify(tenant, challenge.mfaToken, await authenticator.authenticate(options));
    expect(response.status).toBe(200);
    const session: VerifyMfaWithPasskeyResponse = await response.json();
    expect(claimsOf(session.accessToken)).toMatchObject({ sub: member.userId, amr: ['pwd', 'hwk', 'user', 'mfa'] });
  });

  it('refuses assertions that do not answer this challenge or are not of this user (401 invalid_mfa_code)', async () => {
    const tenant = await createTenant();
    const { member, authenticator } = await enrolled(tenant, { counter: 5 });
    const other = await enrolled(tenant);
    const cases: [string, (options: Options) => Promise<unknown>][] = [
      ['another challenge', async () => authenticator.authenticate(await signInOptions(tenant))],
      ['another user’s passkey', (options) => other.authenticator.authenticate(options)],
      ['origin', (options) => authenticator.authenticate(options, { origin: 'http://evil.localhost' })],
      ['counter', (options) => authenticator.authenticate(options, { counter: 2 })],
    ];
    for (const [what, assertion] of cases) {
      const token = await mfaToken(tenant, member);
      const answer = await mfaVerify(tenant, token, await assertion(await mfaOptionsOf(tenant, token)));
      expect(answer.status, what).toBe(401);
      expect((await problem(answer)).code, what).toBe('invalid_mfa_code');
    }
    await waitForAudits(tenant.organization.id, 'auth.passkey_counter_regressed');
    expect(await auditRows(tenant.organization.id, 'auth.mfa_verified')).toEqual([]);
  });

  it("refuses another organization's token, an enrolment-only token and an account without passkeys", async () => {
    const tenant = await createTenant();
    const { member, authenticator } = await enrolled(tenant);
    const elsewhere = await createTenant();
    const token = await mfaToken(tenant, member);
    const foreign = await mfaOptions(elsewhere, token);
    expect(foreign.status).toBe(401);
    expect((await problem(foreign)).code).toBe('mfa_challenge_invalid');

    const { mfaToken: enrolment } = await issueChallenge(
      { bindings: bindings() },
      {
        organizationId: tenant.organization.id,
        userId: member.userId,
        methods: ['totp'],
        enrollmentRequired: true,
        amr: ['pwd'],
        totpCiphertext: null,
      },
    );
    const refused = await mfaVerify(
      tenant,
      enrolment,
      await authenticator.authenticate(await mfaOptionsOf(tenant, enrolment)),
    );
    expect(refused.status).toBe(403);
    expect((await problem(refused)).code).toBe('mfa_enrollment_required');

    const plain = await createMember(tenant, 'organizer');
    const { mfaToken: noPasskeys } = await issueChallenge(
      { bindings: bindings() },
      {
        organizationId: tenant.organization.id,
        userId: plain.userId,
        methods: ['totp'],
        enrollmentRequired: false,
        amr: ['pwd'],
        totpCiphertext: null,
      },
    );
    const none = await mfaOptions(tenant, noPasskeys);
    expect(none.status).toBe(400);
  });
});

function reauthenticationOptions(tenant: TestTenant, token: string, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/reauthenticate/passkey-options'), {}, bearer(token, headers));
}

async function reauthenticationOptionsOf(tenant: TestTenant, token: string): Promise<Options> {
  const response = await reauthenticationOptions(tenant, token);
  expect(response.status).toBe(200);
  return response.json();
}

function reauthenticate(tenant: TestTenant, token: string, response: unknown, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/reauthenticate/passkey'), { response }, bearer(token, headers), randomIp());
}

/** A signed-in member (a real session, with a refresh family) with a passkey, whose sign-in is an hour old. */
async function staleSession(tenant: TestTenant, member: TestMember, authenticator: SoftwareAuthenticator) {
  const fresh = await loginAs(tenant, member);
  await addPasskey(tenant, fresh.accessToken, authenticator);
  await database()
    .update(refreshTokens)
    .set({ authTime: sql`now() - interval '1 hour'` })
    .where(and(eq(refreshTokens.organizationId, tenant.organization.id), eq(refreshTokens.userId, member.userId)));
  const refreshed = await post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken: fresh.refreshToken });
  expect(refreshed.status).toBe(200);
  return (await refreshed.json<{ accessToken: string }>()).accessToken;
}

describe('re-authenticating with a passkey (step-up)', () => {
  it('turns a stale session into a recent one with amr hwk, user, mfa, and step-up then passes', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const authenticator = await authenticatorFor(tenant, { counter: 1 });
    const stale = await staleSession(tenant, member, authenticator);
    expect((await registrationOptions(tenant, stale)).status).toBe(401);

    const optionsId = newRequestId();
    const optionsResponse = await reauthenticationOptions(tenant, stale, { 'x-request-id': optionsId });
    expect(optionsResponse.status).toBe(200);
    const options: Options = await optionsResponse.json();
    expect(options.allowCredentials.map((credential) => credential.id)).toEqual([authenticator.credentialId]);
    expect(await roundTrips(optionsId)).toEqual({ database: 1, redis: 2 });

    const requestId = newRequestId();
    const response = await reauthenticate(tenant, stale, await authenticator.authenticate(options), {
      'x-request-id': requestId,
    });
    expect(response.status).toBe(200);
    const answer: ReauthenticateWithPasskeyResponse = await response.json();
    const claims = claimsOf(answer.accessToken);
    expect(claims).toMatchObject({ sid: claimsOf(stale).sid, amr: ['hwk', 'user', 'mfa'] });
    expect(Math.abs((claims.auth_time as number) - Date.now() / 1000)).toBeLessThan(30);
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 2 });
    expect((await registrationOptions(tenant, answer.accessToken)).status).toBe(200);

    const families = await database()
      .select({ amr: refreshTokens.amr })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.organizationId, tenant.organization.id), eq(refreshTokens.userId, member.userId)));
    expect(families.map((row) => row.amr)).toEqual(families.map(() => ['hwk', 'user', 'mfa']));
    const [audit] = await auditRows(tenant.organization.id, 'auth.reauthenticated');
    expect(audit?.metadata).toMatchObject({ method: 'passkey', amr: ['hwk', 'user', 'mfa'] });
  });

  it("refuses a used challenge, another session's or a sign-in's, and another user's passkey (401)", async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const authenticator = await authenticatorFor(tenant);
    // Signed in before the passkey exists: with it, a password sign-in asks for the passkey as a second factor.
    const otherSession = (await loginAs(tenant, member)).accessToken;
    const stale = await staleSession(tenant, member, authenticator);
    const intruder = await createMember(tenant, 'organizer');
    const intruderKey = await authenticatorFor(tenant);
    const intruderToken = (await loginAs(tenant, intruder)).accessToken;
    await addPasskey(tenant, intruderToken, intruderKey);

    const used = await authenticator.authenticate(await reauthenticationOptionsOf(tenant, stale));
    expect((await reauthenticate(tenant, stale, used)).status).toBe(200);
    const cases: [string, string, unknown][] = [
      ['used challenge', stale, used],
      [
        'another session',
        otherSession,
        await authenticator.authenticate(await reauthenticationOptionsOf(tenant, stale)),
      ],
      ['a sign-in challenge', stale, await authenticator.authenticate(await signInOptions(tenant))],
      // The intruder answers their own challenge with the victim's passkey.
      [
        'another user’s passkey',
        intruderToken,
        await authenticator.authenticate(await reauthenticationOptionsOf(tenant, intruderToken)),
      ],
    ];
    for (const [what, token, response] of cases) {
      const answer = await reauthenticate(tenant, token, response);
      expect(answer.status, what).toBe(401);
      expect((await problem(answer)).code, what).toBe('invalid_credentials');
    }
  });

  it('refuses a session without a refresh family, and a member without passkeys (400)', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const token = await tokenFor(tenant, member);
    const authenticator = await authenticatorFor(tenant);
    await addPasskey(tenant, token, authenticator);
    const answer = await reauthenticate(
      tenant,
      token,
      await authenticator.authenticate(await reauthenticationOptionsOf(tenant, token)),
    );
    expect(answer.status).toBe(401);

    const plain = await createMember(tenant, 'member');
    const none = await reauthenticationOptions(tenant, await tokenFor(tenant, plain));
    expect(none.status).toBe(400);
    expect((await problem(none)).code).toBe('bad_request');
  });
});
