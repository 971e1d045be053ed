import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships, mfaRecoveryCodes, mfaTotp, organizations } from '../../src/db/schema/index.ts';
import type { LoginAnswer, LoginResponse } from '../../src/routes/auth/login.ts';
import type { ConfirmTotpForSignInResponse } from '../../src/routes/mfa/enrolment-confirm.ts';
import type { MfaStatusResponse } from '../../src/routes/mfa/status.ts';
import type { ReauthenticateResponse } from '../../src/routes/mfa/reauthenticate.ts';
import type { RegenerateRecoveryCodesResponse } from '../../src/routes/mfa/recovery-codes.ts';
import { BUILT_IN_ROLES } from '../../src/services/auth/permissions.ts';
import { claimsOf, loginAs, post, waitForAudits, waitForMail } from '../support/auth.ts';
import {
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
} from '../support/harness.ts';
import { challengeFor, enrolTotp, postAs, staleToken, totpCode, verifyMfa, wrongCode } from '../support/mfa.ts';

async function status(tenant: TestTenant, accessToken: string) {
  const response = await request(tenant.url('/api/v1/auth/mfa'), { headers: bearer(accessToken) });
  expect(response.status).toBe(200);
  return response.json<MfaStatusResponse>();
}

describe('recovery codes', () => {
  it('sign in once each, audited and emailed, with amr rcode', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { recoveryCodes, accessToken } = await enrolTotp(tenant, member);
    const [code] = recoveryCodes as [string];
    const { mfaToken } = await challengeFor(tenant, member);
    // Upper case and without the dash: the same code.
    const response = await verifyMfa(tenant, {
      mfaToken,
      method: 'recovery_code',
      code: code.replace('-', '').toUpperCase(),
    });
    expect(response.status).toBe(200);
    const session = await response.json<LoginResponse>();
    expect(claimsOf(session.accessToken).amr).toEqual(['pwd', 'rcode', 'mfa']);
    const [audit] = await waitForAudits(tenant.organization.id, 'auth.mfa_verified');
    expect(audit?.metadata).toMatchObject({ method: 'recovery_code' });
    const mail = await waitForMail(member.email, 2);
    expect(mail.subject).toMatch(/recovery code was used/);
    expect(mail.text).toContain('9 unused code(s) remain');
    expect((await status(tenant, accessToken)).recoveryCodesRemaining).toBe(9);

    const again = await challengeFor(tenant, member);
    const reused = await verifyMfa(tenant, { mfaToken: again.mfaToken, method: 'recovery_code', code });
    expect(reused.status).toBe(401);
    expect((await problem(reused)).code).toBe('invalid_mfa_code');
    const unknown = await verifyMfa(tenant, { mfaToken: again.mfaToken, method: 'recovery_code', code: 'aaaaa-bbbbb' });
    expect(unknown.status).toBe(401);
  });

  it('regenerate (step-up) replaces the whole set, and refuses without TOTP', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { recoveryCodes, accessToken } = await enrolTotp(tenant, member);
    const sid = claimsOf(accessToken).sid as string;
    const stale = await staleToken(tenant, member, sid, BUILT_IN_ROLES.organizer.permissions);
    const refused = await postAs(tenant, '/api/v1/auth/mfa/recovery-codes', stale);
    expect(refused.status).toBe(401);
    expect((await problem(refused)).code).toBe('reauthentication_required');
    const requestId = newRequestId();
    const response = await request(tenant.url('/api/v1/auth/mfa/recovery-codes'), {
      method: 'POST',
      headers: bearer(accessToken, { 'x-request-id': requestId }),
    });
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const fresh = (await response.json<RegenerateRecoveryCodesResponse>()).recoveryCodes;
    expect(fresh).toHaveLength(10);
    expect(fresh.some((code) => recoveryCodes.includes(code))).toBe(false);
    await waitForAudits(tenant.organization.id, 'auth.recovery_codes_regenerated');
    const { mfaToken } = await challengeFor(tenant, member);
    const old = await verifyMfa(tenant, { mfaToken, method: 'recovery_code', code: recoveryCodes[1] ?? '' });
    expect(old.status).toBe(401);
    const ok = await verifyMfa(tenant, { mfaToken, method: 'recovery_code', code: fresh[0] ?? '' });
    expect(ok.status).toBe(200);

    const plain = await createMember(tenant, 'organizer');
    const { accessToken: plainToken } = await loginAs(tenant, plain);
    const none = await postAs(tenant, '/api/v1/auth/mfa/recovery-codes', plainToken);
    expect(none.status).toBe(409);
  });
});

describe('disabling TOTP', () => {
  it('needs step-up and a current factor, then removes the secret and the codes', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { secret, recoveryCodes, accessToken, confirmedWith } = await enrolTotp(tenant, member);
    const stale = await staleToken(
      tenant,
      member,
      claimsOf(accessToken).sid as string,
      BUILT_IN_ROLES.organizer.permissions,
    );
    const refused = await postAs(tenant, '/api/v1/auth/mfa/totp/disable', stale, {
      method: 'totp',
      code: totpCode(secret),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/insufficient_user_authentication/);
    const wrong = await postAs(tenant, '/api/v1/auth/mfa/totp/disable', accessToken, {
      method: 'totp',
      code: wrongCode(secret),
    });
    expect(wrong.status).toBe(401);
    expect((await problem(wrong)).code).toBe('invalid_mfa_code');
    const wrongRecovery = await postAs(tenant, '/api/v1/auth/mfa/totp/disable', accessToken, {
      method: 'recovery_code',
      code: 'zzzzz-zzzzz',
    });
    expect(wrongRecovery.status).toBe(401);
    // The code that confirmed the enrolment is spent (computed then, not now: a step boundary may have passed since).
    const replay = await postAs(tenant, '/api/v1/auth/mfa/totp/disable', accessToken, {
      method: 'totp',
      code: confirmedWith,
    });
    expect(replay.status).toBe(401);
    expect((await status(tenant, accessToken)).totp.enabled).toBe(true);

    const done = await postAs(tenant, '/api/v1/auth/mfa/totp/disable', accessToken, {
      method: 'recovery_code',
      code: recoveryCodes[0],
    });
    expect(done.status).toBe(204);
    expect(await status(tenant, accessToken)).toMatchObject({
      totp: { enabled: false, pendingConfirmation: false },
      recoveryCodesRemaining: 0,
    });
    const left = await database()
      .select()
      .from(mfaRecoveryCodes)
      .where(
        and(eq(mfaRecoveryCodes.organizationId, tenant.organization.id), eq(mfaRecoveryCodes.userId, member.userId)),
      );
    expect(left).toHaveLength(0);
    await waitForAudits(tenant.organization.id, 'auth.mfa_disabled');
    expect((await waitForMail(member.email, 2)).subject).toMatch(/turned off/);
    // Signing in is a password again.
    expect((await loginAs(tenant, member)).refreshToken).toMatch(/^rt_/);
    const again = await postAs(tenant, '/api/v1/auth/mfa/totp/disable', accessToken, {
      method: 'totp',
      code: totpCode(secret),
    });
    expect(again.status).toBe(409);
  });

  it('is per organization: TOTP on one host does not enrol the member elsewhere', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const member = await createMember(tenant, 'organizer');
    await enrolTotp(tenant, member);
    const twin = await createMember(other, 'organizer', { email: member.email });
    const answer = await post(other.url('/api/v1/auth/login'), { email: twin.email, password: TEST_PASSWORD });
    expect(answer.status).toBe(200);
    expect(await answer.json<LoginAnswer>()).toHaveProperty('refreshToken');
  });
});

describe('POST /api/v1/auth/reauthenticate', () => {
  it('renews auth_time of the session with the password, and refresh keeps it', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const login = await loginAs(tenant, member);
    const sid = claimsOf(login.accessToken).sid as string;
    const stale = await staleToken(tenant, member, sid, BUILT_IN_ROLES.organizer.permissions);
    const blocked = await postAs(tenant, '/api/v1/auth/mfa/totp', stale);
    expect(blocked.status).toBe(401);
    const wrong = await postAs(tenant, '/api/v1/auth/reauthenticate', stale, { password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect((await problem(wrong)).code).toBe('invalid_credentials');
    const requestId = newRequestId();
    const response = await request(tenant.url('/api/v1/auth/reauthenticate'), {
      method: 'POST',
      headers: bearer(stale, { 'x-request-id': requestId }),
      body: JSON.stringify({ password: TEST_PASSWORD }),
    });
    expect(response.status).toBe(200);
    // The session's admission (Redis), the account read, the limits (Redis) and the stamping statement.
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 2 });
    const { accessToken } = await response.json<ReauthenticateResponse>();
    const claims = claimsOf(accessToken);
    expect(claims.sid).toBe(sid);
    expect(claims.amr).toEqual(['pwd']);
    expect(Math.abs((claims.auth_time as number) - Date.now() / 1000)).toBeLessThan(5);
    expect((await postAs(tenant, '/api/v1/auth/mfa/totp', accessToken)).status).toBe(201);
    await waitForAudits(tenant.organization.id, 'auth.reauthenticated');
    const refreshed = await post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken: login.refreshToken });
    expect(refreshed.status).toBe(200);
    const next = claimsOf((await refreshed.json<LoginResponse>()).accessToken);
    expect(next.auth_time).toBe(claims.auth_time);
  });

  it('asks for the second factor when TOTP is on, and refuses an ended session', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { secret, accessToken } = await enrolTotp(tenant, member);
    const missing = await postAs(tenant, '/api/v1/auth/reauthenticate', accessToken, { password: TEST_PASSWORD });
    expect(missing.status).toBe(401);
    expect((await problem(missing)).code).toBe('invalid_mfa_code');
    const wrong = await postAs(tenant, '/api/v1/auth/reauthenticate', accessToken, {
      password: TEST_PASSWORD,
      method: 'totp',
      code: wrongCode(secret),
    });
    expect(wrong.status).toBe(401);
    const used = totpCode(secret);
    const ok = await postAs(tenant, '/api/v1/auth/reauthenticate', accessToken, {
      password: TEST_PASSWORD,
      method: 'totp',
      code: used,
    });
    expect(ok.status).toBe(200);
    expect(claimsOf((await ok.json<ReauthenticateResponse>()).accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    // The same code again: replay.
    const replay = await postAs(tenant, '/api/v1/auth/reauthenticate', accessToken, {
      password: TEST_PASSWORD,
      method: 'totp',
      code: used,
    });
    expect(replay.status).toBe(401);
    expect((await problem(replay)).code).toBe('invalid_mfa_code');
    // A session whose refresh family is gone (a token of no stored session) cannot be renewed.
    const orphan = await staleToken(tenant, member, crypto.randomUUID(), BUILT_IN_ROLES.organizer.permissions);
    const ended = await postAs(tenant, '/api/v1/auth/reauthenticate', orphan, {
      password: TEST_PASSWORD,
      method: 'totp',
      code: totpCode(secret, 1),
    });
    expect(ended.status).toBe(401);
    expect((await problem(ended)).code).toBe('unauthorized');
  });
});

describe('organization policy requireMfa', () => {
  async function requireMfa(tenant: TestTenant) {
    await database()
      .update(organizations)
      .set({ settings: { requireMfa: true } })
      .where(eq(organizations.id, tenant.organization.id));
  }

  it('is set by the organization manager with step-up', async () => {
    const tenant = await createTenant();
    const owner = await createMember(tenant, 'owner');
    const { accessToken } = await loginAs(tenant, owner);
    const stale = await staleToken(
      tenant,
      owner,
      claimsOf(accessToken).sid as string,
      BUILT_IN_ROLES.owner.permissions,
    );
    const path = `/api/v1/organizations/${tenant.organization.id}`;
    const put = (token: string, body: unknown) =>
      request(tenant.url(path), { method: 'PUT', headers: bearer(token), body: JSON.stringify(body) });
    const refused = await put(stale, { settings: { requireMfa: true } });
    expect(refused.status).toBe(401);
    expect((await problem(refused)).code).toBe('reauthentication_required');
    // Other settings do not need step-up.
    expect((await put(stale, { settings: { timezone: 'Europe/Paris' } })).status).toBe(200);
    const set = await put(accessToken, { settings: { requireMfa: true } });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ settings: { requireMfa: true, timezone: 'Europe/Paris' } });
  });

  it('holds staff back until they enrol, with a token that only enrols; members stay optional', async () => {
    const tenant = await createTenant();
    await requireMfa(tenant);
    const staff = await createMember(tenant, 'organizer');
    const customer = await createMember(tenant, 'member');
    const plain = await post(tenant.url('/api/v1/auth/login'), { email: customer.email, password: TEST_PASSWORD });
    expect(await plain.json<LoginAnswer>()).toHaveProperty('refreshToken');

    const requestId = newRequestId();
    const challenge = await challengeFor(tenant, staff, { 'x-request-id': requestId });
    expect(challenge).toMatchObject({ mfaRequired: true, enrollmentRequired: true, methods: ['totp'] });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    // The token cannot complete a sign-in without a factor.
    const verify = await verifyMfa(tenant, { mfaToken: challenge.mfaToken, method: 'totp', code: '123456' });
    expect(verify.status).toBe(403);
    expect((await problem(verify)).code).toBe('mfa_enrollment_required');
    // A confirmation before any enrolment.
    const early = await post(tenant.url('/api/v1/auth/mfa/enrollment/totp/confirm'), {
      mfaToken: challenge.mfaToken,
      code: '123456',
    });
    expect(early.status).toBe(409);

    const enrol = await post(tenant.url('/api/v1/auth/mfa/enrollment/totp'), { mfaToken: challenge.mfaToken });
    expect(enrol.status).toBe(201);
    const { secret } = await enrol.json<{ secret: string }>();
    const wrong = await post(tenant.url('/api/v1/auth/mfa/enrollment/totp/confirm'), {
      mfaToken: challenge.mfaToken,
      code: wrongCode(secret),
    });
    expect(wrong.status).toBe(401);
    const [pending] = await database()
      .select()
      .from(mfaTotp)
      .where(and(eq(mfaTotp.organizationId, tenant.organization.id), eq(mfaTotp.userId, staff.userId)));
    expect(pending?.confirmedAt).toBeNull();
    const confirm = await post(tenant.url('/api/v1/auth/mfa/enrollment/totp/confirm'), {
      mfaToken: challenge.mfaToken,
      code: totpCode(secret),
    });
    expect(confirm.status).toBe(200);
    const signedIn = await confirm.json<ConfirmTotpForSignInResponse>();
    expect(signedIn.recoveryCodes).toHaveLength(10);
    expect(claimsOf(signedIn.accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(signedIn.refreshToken).toMatch(/^rt_/);
    expect((await waitForMail(staff.email)).subject).toMatch(/Two-step verification is on/);
    // Used: the token completes nothing more, and enrols nothing more.
    const twice = await post(tenant.url('/api/v1/auth/mfa/enrollment/totp/confirm'), {
      mfaToken: challenge.mfaToken,
      code: totpCode(secret, 1),
    });
    expect(twice.status).toBe(409);
    // The next sign-in asks for the enrolled factor.
    const next = await challengeFor(tenant, staff);
    expect(next).toMatchObject({ enrollmentRequired: false, methods: ['totp', 'recovery_code'] });
    // A normal challenge does not enrol.
    const enrolWithNormal = await post(tenant.url('/api/v1/auth/mfa/enrollment/totp'), { mfaToken: next.mfaToken });
    expect(enrolWithNormal.status).toBe(403);
    const confirmWithNormal = await post(tenant.url('/api/v1/auth/mfa/enrollment/totp/confirm'), {
      mfaToken: next.mfaToken,
      code: totpCode(secret, 1),
    });
    expect(confirmWithNormal.status).toBe(403);
  });
});

describe('edge cases of the second step', () => {
  it('refuses TOTP and recovery codes for a challenge that offers neither (a passkey-only member)', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { recoveryCodes, secret } = await enrolTotp(tenant, member);
    const { issueChallenge } = await import('../../src/services/auth/mfa-challenge.ts');
    const { bindings } = await import('../support/auth.ts');
    const { mfaToken } = await issueChallenge(
      { bindings: bindings() },
      {
        organizationId: tenant.organization.id,
        userId: member.userId,
        methods: ['webauthn'],
        enrollmentRequired: false,
        amr: ['pwd'],
        totpCiphertext: null,
      },
    );
    const totp = await verifyMfa(tenant, { mfaToken, method: 'totp', code: totpCode(secret) });
    expect(totp.status).toBe(401);
    expect((await problem(totp)).code).toBe('invalid_mfa_code');
    const recovery = await verifyMfa(tenant, { mfaToken, method: 'recovery_code', code: recoveryCodes[0] ?? '' });
    expect(recovery.status).toBe(401);
    expect((await problem(recovery)).code).toBe('invalid_mfa_code');
  });

  it('answers 401 to a member removed since the token was issued', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { accessToken } = await loginAs(tenant, member);
    await database()
      .delete(memberships)
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    const status = await request(tenant.url('/api/v1/auth/mfa'), { headers: bearer(accessToken) });
    expect(status.status).toBe(401);
    const reauth = await postAs(tenant, '/api/v1/auth/reauthenticate', accessToken, { password: TEST_PASSWORD });
    expect(reauth.status).toBe(401);
    expect((await problem(reauth)).code).toBe('unauthorized');
  });
});

describe('concurrent confirmations', () => {
  it('confirm a pending TOTP once: one answer has the recovery codes, the others are refused', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { accessToken } = await loginAs(tenant, member);
    const enrol = await postAs(tenant, '/api/v1/auth/mfa/totp', accessToken);
    const { secret } = await enrol.json<{ secret: string }>();
    const answers = await Promise.all(
      [-1, 0, 1, -1, 0, 1].map((offset) =>
        postAs(tenant, '/api/v1/auth/mfa/totp/confirm', accessToken, { code: totpCode(secret, offset) }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    // Refused either before the write (409: no pending enrolment any more) or by it (401: the conditional update).
    expect(statuses.every((status) => [200, 401, 409].includes(status))).toBe(true);
    const codes = await database()
      .select()
      .from(mfaRecoveryCodes)
      .where(
        and(eq(mfaRecoveryCodes.organizationId, tenant.organization.id), eq(mfaRecoveryCodes.userId, member.userId)),
      );
    expect(codes).toHaveLength(10);
  });
});
