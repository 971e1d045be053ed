import { expect } from 'vitest';
import * as OTPAuth from 'otpauth';
import type { LoginAnswer } from '../../src/routes/auth/login.ts';
import type { ConfirmTotpResponse } from '../../src/routes/mfa/totp-confirm.ts';
import type { EnrolTotpResponse } from '../../src/routes/mfa/totp-enrol.ts';
import type { MfaRequired } from '../../src/services/auth/mfa-policy.ts';
import type { Permission } from '../../src/services/auth/permissions.ts';
import { issueAccessToken } from '../../src/services/auth/tokens.ts';
import { encryptSecret } from '../../src/lib/crypto.ts';
import { mfaTotp } from '../../src/db/schema/index.ts';
import { bindings, loginAs, post, randomIp } from './auth.ts';
import { bearer, database, request, type TestMember, type TestTenant } from './harness.ts';

/**
 * The TOTP code of `secret` (base32) `offset` 30-second steps from now, computed by `otpauth` (not the library the
 * Worker uses, @oslojs/otp).
 */
export function totpCode(secret: string, offset = 0): string {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    digits: 6,
    period: 30,
    algorithm: 'SHA1',
  });
  return totp.generate({ timestamp: Date.now() + offset * 30_000 });
}

/** A code for `secret` that is none of the codes valid now (±1 step). */
export function wrongCode(secret: string): string {
  const valid = new Set([-1, 0, 1].map((offset) => totpCode(secret, offset)));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

export interface Enrolled {
  secret: string;
  otpauthUri: string;
  recoveryCodes: string[];
  accessToken: string;
  /** The code that confirmed the enrolment: spent, whatever step the clock has reached since. */
  confirmedWith: string;
}

/**
 * Waits, when fewer than `margin` ms are left of the current 30 s step, for the next one: a code worked out just
 * before a step ends may reach the server a step later, where the previous step's code is outside its ±1 window.
 */
async function clearOfStepEnd(margin = 3_000): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < margin) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** Signs `member` in and turns TOTP on (confirmed with the previous step's code, leaving now and next unused). */
export async function enrolTotp(tenant: TestTenant, member: TestMember): Promise<Enrolled> {
  const { accessToken } = await loginAs(tenant, member);
  const enrol = await request(tenant.url('/api/v1/auth/mfa/totp'), { method: 'POST', headers: bearer(accessToken) });
  expect(enrol.status).toBe(201);
  const { secret, otpauthUri } = await enrol.json<EnrolTotpResponse>();
  await clearOfStepEnd();
  const confirmedWith = totpCode(secret, -1);
  const confirm = await request(tenant.url('/api/v1/auth/mfa/totp/confirm'), {
    method: 'POST',
    headers: bearer(accessToken),
    body: JSON.stringify({ code: confirmedWith }),
  });
  expect(confirm.status).toBe(200);
  const { recoveryCodes } = await confirm.json<ConfirmTotpResponse>();
  return { secret, otpauthUri, recoveryCodes, accessToken, confirmedWith };
}

/** The first step of a sign-in that must answer the MFA challenge. */
export async function challengeFor(
  tenant: TestTenant,
  member: Pick<TestMember, 'email' | 'password'>,
  headers: Record<string, string> = {},
  ip = randomIp(),
): Promise<MfaRequired> {
  const response = await post(
    tenant.url('/api/v1/auth/login'),
    { email: member.email, password: member.password },
    headers,
    ip,
  );
  expect(response.status).toBe(200);
  const body = await response.json<LoginAnswer>();
  expect(body).toHaveProperty('mfaRequired', true);
  return body as MfaRequired;
}

/** POST /api/v1/auth/mfa/verify. */
export function verifyMfa(
  tenant: TestTenant,
  body: { mfaToken: string; method: 'totp' | 'recovery_code'; code: string },
  headers: Record<string, string> = {},
  ip: string | null = randomIp(),
): Promise<Response> {
  return post(tenant.url('/api/v1/auth/mfa/verify'), body, headers, ip);
}

/** An access token of `sessionId` whose sign-in (`auth_time`) was an hour ago: step-up routes refuse it. */
export async function staleToken(
  tenant: TestTenant,
  member: TestMember,
  sessionId: string,
  permissions: readonly Permission[],
): Promise<string> {
  const { token } = await issueAccessToken(bindings().JWT_SIGNING_KEYS, bindings().ROOT_DOMAIN, {
    userId: member.userId,
    tenant: tenant.organization.id,
    sessionId,
    role: member.role,
    permissions,
    emailVerified: true,
    authTime: Math.floor(Date.now() / 1000) - 3600,
  });
  return token;
}

/** A JSON POST with a bearer token. */
export function postAs(tenant: TestTenant, path: string, token: string, body?: unknown): Promise<Response> {
  return request(tenant.url(path), {
    method: 'POST',
    headers: { ...bearer(token), 'cf-connecting-ip': randomIp() },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A confirmed TOTP factor written straight into the database (for tests about limits, not enrolment). */
export async function storeTotp(tenant: TestTenant, member: TestMember): Promise<string> {
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  const secretCiphertext = await encryptSecret(
    bindings().DATA_ENCRYPTION_KEY,
    { organizationId: tenant.organization.id, purpose: 'totp_secret' },
    secret,
  );
  await database().insert(mfaTotp).values({
    organizationId: tenant.organization.id,
    userId: member.userId,
    secretCiphertext,
    confirmedAt: new Date(),
  });
  return secret;
}
