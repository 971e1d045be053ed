import { and, eq } from 'drizzle-orm';
import * as OTPAuth from 'otpauth';
import { describe, expect, it } from 'vitest';
import { mfaRecoveryCodes, mfaTotp, refreshTokens } from '../../src/db/schema/index.ts';
import type { LoginResponse } from '../../src/routes/auth/login.ts';
import type { MfaStatusResponse } from '../../src/routes/mfa/status.ts';
import type { VerifyMfaResponse } from '../../src/routes/mfa/verify.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import { claimsOf, loginAs, post, randomIp, waitForAudits, waitForMail } from '../support/auth.ts';
import {
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
} from '../support/harness.ts';
import { challengeFor, enrolTotp, storeTotp, totpCode, verifyMfa, wrongCode } from '../support/mfa.ts';

async function status(tenant: Awaited<ReturnType<typeof createTenant>>, accessToken: string) {
  const response = await request(tenant.url('/api/v1/auth/mfa'), { headers: bearer(accessToken) });
  expect(response.status).toBe(200);
  return response.json<MfaStatusResponse>();
}

describe('TOTP enrolment', () => {
  it('shows the secret once as an otpauth URI, stores it encrypted, and counts only once a first code confirms it', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { accessToken } = await loginAs(tenant, member);
    const enrol = await request(tenant.url('/api/v1/auth/mfa/totp'), { method: 'POST', headers: bearer(accessToken) });
    expect(enrol.status).toBe(201);
    const { secret, otpauthUri } = await enrol.json<{ secret: string; otpauthUri: string }>();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // Read back by another library (otpauth), as an authenticator app would.
    const parsed = OTPAuth.URI.parse(otpauthUri) as OTPAuth.TOTP;
    expect(parsed).toBeInstanceOf(OTPAuth.TOTP);
    expect([parsed.issuer, parsed.label, parsed.digits, parsed.period]).toEqual([
      tenant.organization.name,
      member.email,
      6,
      30,
    ]);
    expect(parsed.secret.base32).toBe(secret);
    const [row] = await database()
      .select()
      .from(mfaTotp)
      .where(and(eq(mfaTotp.organizationId, tenant.organization.id), eq(mfaTotp.userId, member.userId)));
    expect(row?.confirmedAt).toBeNull();
    expect(row?.secretCiphertext).toMatch(/^v1\./);
    expect(row?.secretCiphertext).not.toContain(secret);
    expect(await status(tenant, accessToken)).toEqual({
      totp: { enabled: false, pendingConfirmation: true },
      recoveryCodesRemaining: 0,
      organizationRequiresMfa: false,
    });
    // A pending factor does not hold the sign-in back.
    expect((await loginAs(tenant, member)).refreshToken).toMatch(/^rt_/);

    const wrong = await request(tenant.url('/api/v1/auth/mfa/totp/confirm'), {
      method: 'POST',
      headers: bearer(accessToken),
      body: JSON.stringify({ code: wrongCode(secret) }),
    });
    expect(wrong.status).toBe(401);
    expect((await problem(wrong)).code).toBe('invalid_mfa_code');
    expect((await status(tenant, accessToken)).totp).toEqual({ enabled: false, pendingConfirmation: true });

    const confirm = await request(tenant.url('/api/v1/auth/mfa/totp/confirm'), {
      method: 'POST',
      headers: bearer(accessToken),
      body: JSON.stringify({ code: totpCode(secret) }),
    });
    expect(confirm.status).toBe(200);
    const { recoveryCodes } = await confirm.json<{ recoveryCodes: string[] }>();
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const stored = await database()
      .select({ codeHash: mfaRecoveryCodes.codeHash })
      .from(mfaRecoveryCodes)
      .where(eq(mfaRecoveryCodes.userId, member.userId));
    expect(stored).toHaveLength(10);
    expect(JSON.stringify(stored)).not.toMatch(new RegExp(recoveryCodes.map((code) => code.slice(0, 5)).join('|')));
    expect(await status(tenant, accessToken)).toEqual({
      totp: { enabled: true, pendingConfirmation: false },
      recoveryCodesRemaining: 10,
      organizationRequiresMfa: false,
    });
    expect((await waitForMail(member.email)).subject).toMatch(/Two-step verification is on/);
    await waitForAudits(tenant.organization.id, 'auth.mfa_enabled');

    // Confirmed: a second enrolment, or a second confirmation, is a conflict.
    const again = await request(tenant.url('/api/v1/auth/mfa/totp'), { method: 'POST', headers: bearer(accessToken) });
    expect(again.status).toBe(409);
    const reconfirm = await request(tenant.url('/api/v1/auth/mfa/totp/confirm'), {
      method: 'POST',
      headers: bearer(accessToken),
      body: JSON.stringify({ code: totpCode(secret, 1) }),
    });
    expect(reconfirm.status).toBe(409);
  });
});

describe('sign-in with TOTP', () => {
  it('answers the challenge instead of a session, and the second step completes it: 1+1 round trips each', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { secret } = await enrolTotp(tenant, member);
    const firstId = newRequestId();
    const started = performance.now();
    const challenge = await challengeFor(tenant, member, { 'x-request-id': firstId });
    const firstMs = performance.now() - started;
    expect(challenge).toMatchObject({ mfaRequired: true, expiresIn: 300, methods: ['totp', 'recovery_code'] });
    expect(challenge.enrollmentRequired).toBe(false);
    expect(challenge.mfaToken).toMatch(/^mfa_v1\./);
    expect(challenge).not.toHaveProperty('accessToken');
    expect(await roundTrips(firstId)).toEqual({ database: 1, redis: 1 });

    const secondId = newRequestId();
    const secondStarted = performance.now();
    const used = totpCode(secret);
    const response = await verifyMfa(
      tenant,
      { mfaToken: challenge.mfaToken, method: 'totp', code: used },
      { 'x-request-id': secondId },
    );
    const secondMs = performance.now() - secondStarted;
    expect(response.status).toBe(200);
    expect(await roundTrips(secondId)).toEqual({ database: 1, redis: 1 });
    console.info(`sign-in with MFA: step 1 ${firstMs.toFixed(1)} ms, step 2 ${secondMs.toFixed(1)} ms`);
    const session = await response.json<VerifyMfaResponse>();
    const claims = claimsOf(session.accessToken);
    expect(claims).toMatchObject({ sub: member.userId, amr: ['pwd', 'otp', 'mfa'] });
    const [family] = await database()
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, await hashToken(session.refreshToken ?? '')));
    expect(family).toMatchObject({ familyId: claims.sid, amr: ['pwd', 'otp', 'mfa'], parentId: null });
    // The first step stored no session of its own.
    const families = await database().select().from(refreshTokens).where(eq(refreshTokens.userId, member.userId));
    expect(families.filter((row) => row.createdAt > new Date(Date.now() - 5000)).length).toBeGreaterThan(0);
    await waitForAudits(tenant.organization.id, 'auth.mfa_verified');
    await waitForAudits(tenant.organization.id, 'auth.login', 2);

    // The same challenge again, with the next step's code: used.
    const reused = await verifyMfa(tenant, { mfaToken: challenge.mfaToken, method: 'totp', code: totpCode(secret, 1) });
    expect(reused.status).toBe(401);
    expect((await problem(reused)).code).toBe('mfa_challenge_invalid');
    // A new challenge with the code already used in its step: replay.
    const next = await challengeFor(tenant, member);
    const replay = await verifyMfa(tenant, { mfaToken: next.mfaToken, method: 'totp', code: used });
    expect(replay.status).toBe(401);
    expect((await problem(replay)).code).toBe('invalid_mfa_code');
    await waitForAudits(tenant.organization.id, 'auth.mfa_failed');
    // The challenge that was not spent by the replay still completes with the next step's code.
    const later = await verifyMfa(tenant, { mfaToken: next.mfaToken, method: 'totp', code: totpCode(secret, 1) });
    expect(later.status).toBe(200);
  });

  it('refuses wrong, malformed and old codes, and tokens that are altered, foreign or expired', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { secret } = await enrolTotp(tenant, member);
    const { mfaToken } = await challengeFor(tenant, member);
    for (const code of [wrongCode(secret), '12345', 'abcdef', totpCode(secret, -3)]) {
      const response = await verifyMfa(tenant, { mfaToken, method: 'totp', code });
      expect(response.status).toBe(401);
      expect((await problem(response)).code).toBe('invalid_mfa_code');
    }
    const tampered = `${mfaToken.slice(0, -4)}${mfaToken.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    for (const [host, token] of [
      [other, mfaToken],
      [tenant, tampered],
      [tenant, 'mfa_nope'],
      [tenant, 'rt_abc'],
    ] as const) {
      const response = await verifyMfa(host, { mfaToken: token, method: 'totp', code: totpCode(secret) });
      expect(response.status).toBe(401);
      expect((await problem(response)).code).toBe('mfa_challenge_invalid');
    }
    // A challenge issued 301 seconds ago.
    const { issueChallenge } = await import('../../src/services/auth/mfa-challenge.ts');
    const { bindings } = await import('../support/auth.ts');
    const expired = await issueChallenge(
      { bindings: bindings() },
      {
        organizationId: tenant.organization.id,
        userId: member.userId,
        methods: ['totp'],
        enrollmentRequired: false,
        amr: ['pwd'],
        totpCiphertext: null,
      },
      Date.now() - 301_000,
    );
    const late = await verifyMfa(tenant, { mfaToken: expired.mfaToken, method: 'totp', code: totpCode(secret) });
    expect(late.status).toBe(401);
    expect((await problem(late)).code).toBe('mfa_challenge_invalid');
    // The platform host has no MFA challenge to complete.
    const platform = await post('http://localhost/api/v1/auth/mfa/verify', {
      mfaToken,
      method: 'totp',
      code: totpCode(secret),
    });
    expect(platform.status).toBe(404);
  });

  it('lets exactly one of two concurrent completions of a challenge sign in', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { secret, recoveryCodes } = await enrolTotp(tenant, member);
    const { mfaToken } = await challengeFor(tenant, member);
    const answers = await Promise.all([
      verifyMfa(tenant, { mfaToken, method: 'totp', code: totpCode(secret) }),
      verifyMfa(tenant, { mfaToken, method: 'recovery_code', code: recoveryCodes[0] ?? '' }),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401]);
    const families = await database()
      .select({ familyId: refreshTokens.familyId })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, member.userId));
    const body = await answers.find((answer) => answer.status === 200)?.json<LoginResponse>();
    expect(families.filter((row) => row.familyId === claimsOf(body?.accessToken ?? '').sid)).toHaveLength(1);
  });

  it('limits guesses per account: 5 failures in 15 minutes, then 429 even for the right code', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const { secret } = await enrolTotp(tenant, member);
    const { mfaToken } = await challengeFor(tenant, member);
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await verifyMfa(tenant, { mfaToken, method: 'totp', code: wrongCode(secret) });
      expect(response.status).toBe(401);
    }
    const blocked = await verifyMfa(tenant, { mfaToken, method: 'totp', code: totpCode(secret) });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    // From another address too: the bucket is the account's.
    const elsewhere = await verifyMfa(tenant, { mfaToken, method: 'totp', code: totpCode(secret) }, {}, randomIp());
    expect(elsewhere.status).toBe(429);
  });

  it('limits guesses per client address across accounts', async () => {
    const tenant = await createTenant();
    const ip = randomIp();
    const members = await Promise.all(Array.from({ length: 7 }, () => createMember(tenant, 'member')));
    const enrolled = await Promise.all(
      members.map(async (member) => ({ member, secret: await storeTotp(tenant, member) })),
    );
    // One after the other: concurrent password checks starve the isolate (scrypt) past the limiter's deadline.
    const challenges = [];
    for (const { member } of enrolled) challenges.push(await challengeFor(tenant, member));
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 31; attempt++) {
      const index = attempt % enrolled.length;
      const response = await verifyMfa(
        tenant,
        { mfaToken: challenges[index]?.mfaToken ?? '', method: 'totp', code: wrongCode(enrolled[index]?.secret ?? '') },
        {},
        ip,
      );
      statuses.push(response.status);
    }
    // 7 accounts x at most 5 each would allow 35; the address's 30 stop the 31st.
    expect(statuses.slice(0, 30).every((status) => status === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
  });
});
