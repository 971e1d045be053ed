import { decodeBase32IgnorePadding, encodeBase32UpperCaseNoPadding } from '@oslojs/encoding';
import { createTOTPKeyURI, verifyHOTP } from '@oslojs/otp';
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { mfaRecoveryCodes, mfaTotp, refreshTokens, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { decryptSecret, encryptSecret, type SecretContext } from '../../lib/crypto.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditFromCte, checkPassword, invalidCredentials } from './account.ts';
import { brandingQuery, emailBranding } from '../email/branding.ts';
import { tenantOrigin } from '../email/links.ts';
import { mfaNoticeEmail, type Branding } from '../email/messages.ts';
import { sendLater } from '../email/branding.ts';
import type { Tenant } from '../tenants/types.ts';
import { textArray } from '../../db/params.ts';
import { accountBucket, AUTH_LIMITS, clientBucket, enforceLimits, giveBackAccountAttempt } from './limits.ts';
import {
  completeChallenge,
  invalidCode,
  mfaAccountBucket,
  openChallenge,
  type CompletedSignIn,
  type FactorProof,
  type MfaChallenge,
} from './mfa-challenge.ts';
import type { Session } from './grant.ts';
import { hashToken, issueAccessToken } from './tokens.ts';

/** RFC 6238 parameters every authenticator app understands: SHA-1, 30-second steps, 6 digits. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Codes of the previous and the next step are accepted too (clock drift), each once. */
const TOTP_WINDOW_STEPS = 1;
const TOTP_SECRET_BYTES = 20;
export const RECOVERY_CODE_COUNT = 10;
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_CODE_LENGTH = 10;

/** The second factor presented with a request: a TOTP code, or a recovery code. */
export interface FactorInput {
  method: 'totp' | 'recovery_code';
  code: string;
}

const secretContext = (organizationId: string): SecretContext => ({ organizationId, purpose: 'totp_secret' });

/**
 * The time step of `code` within ±1 step of now, or null: @oslojs/otp's HOTP (RFC 4226) at each candidate counter,
 * compared in constant time. The step (not a boolean) is what replay protection stores.
 */
export function matchingStep(secret: Uint8Array, code: string, now = Date.now()): number | null {
  if (!new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code)) return null;
  const current = Math.floor(now / 1000 / TOTP_PERIOD_SECONDS);
  for (let step = current - TOTP_WINDOW_STEPS; step <= current + TOTP_WINDOW_STEPS; step++) {
    if (verifyHOTP(secret, BigInt(step), TOTP_DIGITS, code)) return step;
  }
  return null;
}

async function secretOf(ctx: ServiceContext, organizationId: string, ciphertext: string): Promise<Uint8Array> {
  return decodeBase32IgnorePadding(
    await decryptSecret(ctx.bindings.DATA_ENCRYPTION_KEY, secretContext(organizationId), ciphertext),
  );
}

/** Recovery codes are compared lower-case without separators: `ABCDE-FGHJK` and `abcdefghjk` are the same code. */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = crypto.getRandomValues(new Uint8Array(RECOVERY_CODE_LENGTH));
    // 31 symbols from a byte: the modulo bias (256 = 8 * 31 + 8) costs well under a bit of the code's 49.
    const code = [...bytes].map((byte) => RECOVERY_ALPHABET[byte % RECOVERY_ALPHABET.length]).join('');
    return `${code.slice(0, 5)}-${code.slice(5)}`;
  });
}

function recoveryHash(code: string): Promise<string> {
  return hashToken(`recovery:${normalizeRecoveryCode(code)}`);
}

/** A fresh set of codes: the new hashes replace every old code (used or not) of the member. */
async function recoveryCodeSet(): Promise<{ codes: string[]; hashes: SQL }> {
  const codes = newRecoveryCodes();
  return { codes, hashes: textArray(await Promise.all(codes.map(recoveryHash))) };
}

function replaceRecoveryCodes(organizationId: string, userId: string, hashes: SQL, when: SQL): SQL[] {
  return [
    sql`delete from mfa_recovery_codes where organization_id = ${organizationId} and user_id = ${userId} and ${when}`,
    sql`insert into mfa_recovery_codes (organization_id, user_id, code_hash)
        select ${organizationId}::uuid, ${userId}::uuid, unnest(${hashes}) where ${when}`,
  ];
}

/**
 * The proof of a TOTP code for the confirmed factor whose secret is `ciphertext`: null when the code matches no step
 * in the window; otherwise the SQL that accepts it only if its step is after the last one used (replay), locking the
 * row so concurrent uses of one code serialize and only one wins.
 */
async function totpProof(
  ctx: ServiceContext,
  organizationId: string,
  userId: string,
  ciphertext: string | null,
  code: string,
  confirmed = true,
): Promise<{ step: number; proof: SQL; spend: (when: SQL) => SQL } | null> {
  if (ciphertext === null) return null;
  const step = matchingStep(await secretOf(ctx, organizationId, ciphertext), code);
  if (step === null) return null;
  const live = sql`organization_id = ${organizationId} and user_id = ${userId} and secret_ciphertext = ${ciphertext}
    and confirmed_at is ${confirmed ? sql`not null` : sql`null`} and (last_used_step is null or last_used_step < ${step})`;
  return {
    step,
    proof: sql`select 1 from mfa_totp where ${live} for update`,
    spend: (when) =>
      sql`update mfa_totp set last_used_step = ${step}${confirmed ? sql`` : sql`, confirmed_at = now()`}
          where ${live} and ${when} returning user_id`,
  };
}

async function recoveryProof(organizationId: string, userId: string, code: string) {
  const hash = await recoveryHash(code);
  const row = sql`organization_id = ${organizationId} and user_id = ${userId} and code_hash = ${hash}`;
  return {
    proof: sql`select 1 from mfa_recovery_codes where ${row} and used_at is null for update`,
    spend: (when: SQL) =>
      sql`update mfa_recovery_codes set used_at = now() where ${row} and used_at is null and ${when} returning user_id`,
  };
}

/** The factor check of the sign-in's second step: a TOTP code (replay-safe) or a recovery code. */
async function signInFactor(ctx: ServiceContext, challenge: MfaChallenge, input: FactorInput) {
  const { organizationId, userId } = challenge;
  if (input.method === 'totp') {
    const totp = await totpProof(ctx, organizationId, userId, challenge.totpCiphertext, input.code);
    return totp && ({ method: 'totp', amr: ['otp'], proof: totp.proof, spend: totp.spend } satisfies FactorProof);
  }
  if (!challenge.methods.includes('recovery_code')) return null;
  const recovery = await recoveryProof(organizationId, userId, input.code);
  return { method: 'recovery_code', amr: ['rcode'], ...recovery } satisfies FactorProof;
}

function accountSecurityUrl(ctx: ServiceContext, tenant: Tenant): string {
  return new URL('/account/security', tenantOrigin(ctx, tenant)).toString();
}

function notify(
  ctx: ServiceContext,
  tenant: Tenant,
  to: string,
  branding: Branding,
  kind: 'recovery_code_used' | 'mfa_enabled' | 'mfa_disabled',
  recoveryCodesLeft?: number,
): void {
  sendLater(
    ctx,
    mfaNoticeEmail({
      id: crypto.randomUUID(),
      to,
      kind,
      url: accountSecurityUrl(ctx, tenant),
      branding,
      ...(recoveryCodesLeft === undefined ? {} : { recoveryCodesLeft }),
    }),
  );
}

/**
 * The second step of a sign-in with MFA: completes the challenge with a TOTP or recovery code (`completeChallenge`:
 * one Redis round trip for the limits, one database round trip). A recovery code used is audited
 * (`auth.mfa_verified`, method `recovery_code`) and emailed to the member.
 */
export async function verifySignIn({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: FactorInput & { mfaToken: string };
}): Promise<Session> {
  const tenant = requireTenant(ctx);
  const signedIn = await completeChallenge(ctx, {
    mfaToken: input.mfaToken,
    check: (challenge) => signInFactor(ctx, challenge, input),
  });
  if (input.method === 'recovery_code') {
    notify(ctx, tenant, signedIn.user.email, signedIn.branding, 'recovery_code_used', signedIn.recoveryCodesBefore - 1);
  }
  return sessionOf(signedIn);
}

function sessionOf(signedIn: CompletedSignIn): Session {
  const { user, accessToken, refreshToken, expiresIn, tokenType } = signedIn;
  return { user, accessToken, refreshToken, expiresIn, tokenType };
}

export interface TotpEnrolment {
  /** The base32 secret, for manual entry. Shown once. */
  secret: string;
  /** `otpauth://totp/...` for a QR code: issuer = the organization's name, account = the email address. */
  otpauthUri: string;
}

/**
 * Starts (or restarts) a TOTP enrolment of `userId` here: a new secret, encrypted at rest, pending until a first
 * valid code confirms it. 409 when a confirmed TOTP exists (disable it first). One database round trip.
 */
async function startTotp(ctx: ServiceContext, tenant: Tenant, userId: string): Promise<TotpEnrolment> {
  const key = crypto.getRandomValues(new Uint8Array(TOTP_SECRET_BYTES));
  const secret = encodeBase32UpperCaseNoPadding(key);
  const ciphertext = await encryptSecret(ctx.bindings.DATA_ENCRYPTION_KEY, secretContext(tenant.id), secret);
  const db = ctx.services.db;
  const [stored] = await scoped(db, { organizationId: tenant.id }, [
    db
      .insert(mfaTotp)
      .values({ organizationId: tenant.id, userId, secretCiphertext: ciphertext })
      .onConflictDoUpdate({
        target: [mfaTotp.organizationId, mfaTotp.userId],
        set: { secretCiphertext: ciphertext, lastUsedStep: null, createdAt: sql`now()` },
        setWhere: isNull(mfaTotp.confirmedAt),
      })
      .returning({ email: sql<string>`(select ${users.email} from ${users} where ${users.id} = ${userId})` }),
  ]);
  const email = stored[0]?.email;
  if (email === undefined) {
    throw new ApiError('conflict', { detail: 'TOTP is already enabled; disable it before enrolling a new one.' });
  }
  return {
    secret,
    // @oslojs/otp writes the query with URLSearchParams, whose `+` for a space authenticator apps show as a `+`
    // (the Key URI format percent-encodes); a literal `+` is `%2B` there, so every `+` left is a space.
    otpauthUri: createTOTPKeyURI(tenant.name, email, key, TOTP_PERIOD_SECONDS, TOTP_DIGITS).replaceAll('+', '%20'),
  };
}

/** Enrols TOTP for the signed-in member (step-up guarded by the route). */
export async function enrolTotp({ ctx }: { ctx: ServiceContext }): Promise<TotpEnrolment> {
  const tenant = requireTenant(ctx);
  return startTotp(ctx, tenant, principalOf({ var: { principal: ctx.principal } }).userId);
}

/**
 * Enrols TOTP with the MFA token of a sign-in that the organization's `requireMfa` policy holds back (the token's
 * only other use is completing that sign-in). No Redis round trip: the token opens locally.
 */
export async function enrolTotpForSignIn({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { mfaToken: string };
}): Promise<TotpEnrolment> {
  const tenant = requireTenant(ctx);
  const challenge = await openChallenge(ctx, input.mfaToken);
  if (!challenge.enrollmentRequired) {
    throw new ApiError('forbidden', { detail: 'This MFA token completes a sign-in; it does not enrol factors.' });
  }
  return startTotp(ctx, tenant, challenge.userId);
}

/** The member's account and factors here: email, password hash, the TOTP row (if any), unused recovery codes. */
function factorsQuery(ctx: ServiceContext, organizationId: string, userId: string) {
  const db = ctx.services.db;
  return db
    .select({
      email: users.email,
      passwordHash: users.passwordHash,
      ciphertext: mfaTotp.secretCiphertext,
      confirmedAt: mfaTotp.confirmedAt,
      recoveryCodes: sql<number>`(select count(*) from ${mfaRecoveryCodes} c
        where c.organization_id = ${organizationId} and c.user_id = ${users.id} and c.used_at is null)::int`,
    })
    .from(users)
    .leftJoin(mfaTotp, and(eq(mfaTotp.organizationId, organizationId), eq(mfaTotp.userId, users.id)))
    .where(eq(users.id, userId));
}

function noPendingEnrolment(): ApiError {
  return new ApiError('conflict', { detail: 'There is no TOTP enrolment waiting for confirmation; enrol first.' });
}

/**
 * Confirms the signed-in member's pending TOTP with a first valid code and answers the 10 recovery codes (shown once;
 * they replace any older set). Two database round trips: the pending secret is read and decrypted to check the code,
 * then one statement confirms it (only if the same secret is still pending and the step is new), stores the codes'
 * hashes and the audit row. A wrong code is 401 `invalid_mfa_code` and confirms nothing.
 */
export async function confirmTotp({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { code: string };
}): Promise<{ recoveryCodes: string[] }> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [pending, organization] = await scoped(db, { organizationId: tenant.id }, [
    factorsQuery(ctx, tenant.id, principal.userId),
    brandingQuery(db, tenant.id),
  ]);
  const row = pending[0];
  if (row?.ciphertext == null || row.confirmedAt !== null) throw noPendingEnrolment();
  const totp = await totpProof(ctx, tenant.id, principal.userId, row.ciphertext, input.code, false);
  if (totp === null) throw invalidCode();
  const { codes, hashes } = await recoveryCodeSet();
  const confirmed = db.$with('confirmed', { userId: mfaTotp.userId }).as(totp.spend(sql`true`));
  const when = sql`exists (select 1 from confirmed)`;
  const [deleted, inserted] = replaceRecoveryCodes(tenant.id, principal.userId, hashes, when);
  const steps = [
    db.$with('deleted', { ok: sql<number>`1` }).as(sql`${deleted} returning 1`),
    db.$with('inserted', { ok: sql<number>`1` }).as(sql`${inserted} returning 1`),
    db
      .$with('audit', { ok: sql<number>`1` })
      .as(auditFromCte(ctx.client, tenant.id, 'auth.mfa_enabled', 'confirmed', { method: 'totp' })),
  ];
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db
      .with(confirmed, ...steps)
      .select({ ok: sql<boolean>`exists (select 1 from confirmed)` })
      .from(sql`(select 1) as one`),
  ]);
  if (result[0]?.ok !== true) throw invalidCode();
  notify(ctx, tenant, row.email, emailBranding(organization[0]), 'mfa_enabled');
  return { recoveryCodes: codes };
}

/**
 * Confirms the TOTP enrolled with the MFA token of a sign-in held back by `requireMfa`, and completes that sign-in:
 * the session (amr `pwd`, `otp`, `mfa`) and the 10 recovery codes, shown once. The pending secret is read first (one
 * database round trip) to check the code; the completion is `completeChallenge` (one Redis, one database round trip).
 */
export async function confirmTotpForSignIn({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { mfaToken: string; code: string };
}): Promise<Session & { recoveryCodes: string[] }> {
  const tenant = requireTenant(ctx);
  const opened = await openChallenge(ctx, input.mfaToken);
  if (!opened.enrollmentRequired) {
    throw new ApiError('forbidden', { detail: 'This MFA token completes a sign-in; it does not enrol factors.' });
  }
  const { codes, hashes } = await recoveryCodeSet();
  const signedIn = await completeChallenge(ctx, {
    mfaToken: input.mfaToken,
    enrolment: true,
    check: async (challenge) => {
      const db = ctx.services.db;
      const [pending] = await scoped(db, { organizationId: tenant.id }, [
        factorsQuery(ctx, tenant.id, challenge.userId),
      ]);
      const row = pending[0];
      if (row?.ciphertext == null || row.confirmedAt !== null) throw noPendingEnrolment();
      const totp = await totpProof(ctx, tenant.id, challenge.userId, row.ciphertext, input.code, false);
      return (
        totp && {
          method: 'totp',
          amr: ['otp'],
          proof: totp.proof,
          spend: totp.spend,
          also: (when) =>
            replaceRecoveryCodes(tenant.id, challenge.userId, hashes, when).map((s) => sql`${s} returning 1`),
          audit: { enrolled: true },
        }
      );
    },
  });
  notify(ctx, tenant, signedIn.user.email, signedIn.branding, 'mfa_enabled');
  return { ...sessionOf(signedIn), recoveryCodes: codes };
}

function totpNotEnabled(): ApiError {
  return new ApiError('conflict', { detail: 'TOTP is not enabled for this account here.' });
}

/** The second-step limits for a signed-in member presenting a code (disable, re-authentication): one Redis round trip. */
async function chargeFactorAttempt(ctx: ServiceContext, userId: string): Promise<string> {
  const key = await mfaAccountBucket(userId);
  await enforceLimits(ctx, [
    [AUTH_LIMITS.mfaClient, clientBucket(ctx)],
    [AUTH_LIMITS.mfaAccount, key],
    [AUTH_LIMITS.mfaAccountDay, key],
  ]);
  return key;
}

/** The proof of a factor presented by a signed-in member: TOTP (replay-safe) or an unused recovery code. */
async function presentedFactor(
  ctx: ServiceContext,
  organizationId: string,
  userId: string,
  ciphertext: string,
  input: FactorInput,
): Promise<{ proof: SQL; spend: (when: SQL) => SQL; amr: string } | null> {
  if (input.method === 'totp') {
    const totp = await totpProof(ctx, organizationId, userId, ciphertext, input.code);
    return totp && { proof: totp.proof, spend: totp.spend, amr: 'otp' };
  }
  return { ...(await recoveryProof(organizationId, userId, input.code)), amr: 'rcode' };
}

/**
 * Turns TOTP off for the signed-in member (step-up guarded by the route), proven by a current factor: a valid TOTP
 * code or an unused recovery code. Deletes the secret and every recovery code, audited (`auth.mfa_disabled`) and
 * emailed. One Redis round trip (the second-step limits) and two database round trips (read the secret; one
 * statement that deletes only if the factor still holds).
 */
export async function disableTotp({ ctx, input }: { ctx: ServiceContext; input: FactorInput }): Promise<void> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [found, organization] = await scoped(db, { organizationId: tenant.id }, [
    factorsQuery(ctx, tenant.id, principal.userId),
    brandingQuery(db, tenant.id),
  ]);
  const row = found[0];
  if (row?.ciphertext == null || row.confirmedAt === null) throw totpNotEnabled();
  const key = await chargeFactorAttempt(ctx, principal.userId);
  const factor = await presentedFactor(ctx, tenant.id, principal.userId, row.ciphertext, input);
  if (factor === null) throw invalidCode();
  const whenProved = sql`exists (select 1 from proof)`;
  const owner = sql`organization_id = ${tenant.id} and user_id = ${principal.userId}`;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db
      .with(
        db.$with('proof', { ok: sql<number>`1` }).as(factor.proof),
        db
          .$with('removed', { userId: mfaTotp.userId })
          .as(sql`delete from mfa_totp where ${owner} and ${whenProved} returning user_id`),
        db
          .$with('codes', { ok: sql<number>`1` })
          .as(sql`delete from mfa_recovery_codes where ${owner} and ${whenProved} returning 1`),
        db
          .$with('audit', { ok: sql<number>`1` })
          .as(auditFromCte(ctx.client, tenant.id, 'auth.mfa_disabled', 'removed', { method: input.method })),
      )
      .select({ ok: sql<boolean>`exists (select 1 from removed)` })
      .from(sql`(select 1) as one`),
  ]);
  if (result[0]?.ok !== true) throw invalidCode();
  giveBackAccountAttempt(ctx, key, [AUTH_LIMITS.mfaAccount, AUTH_LIMITS.mfaAccountDay]);
  notify(ctx, tenant, row.email, emailBranding(organization[0]), 'mfa_disabled');
}

/**
 * A new set of 10 recovery codes for the signed-in member (step-up guarded by the route), shown once: the old set,
 * used or not, stops working. 409 without TOTP. One database round trip.
 */
export async function regenerateRecoveryCodes({ ctx }: { ctx: ServiceContext }): Promise<{ recoveryCodes: string[] }> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const { codes, hashes } = await recoveryCodeSet();
  const enabled = db.$with('enabled', { userId: mfaTotp.userId }).as(sql`
    select user_id from mfa_totp
     where organization_id = ${tenant.id} and user_id = ${principal.userId} and confirmed_at is not null`);
  const [deleted, inserted] = replaceRecoveryCodes(
    tenant.id,
    principal.userId,
    hashes,
    sql`exists (select 1 from enabled)`,
  );
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db
      .with(
        enabled,
        db.$with('deleted', { ok: sql<number>`1` }).as(sql`${deleted} returning 1`),
        db.$with('inserted', { ok: sql<number>`1` }).as(sql`${inserted} returning 1`),
        db
          .$with('audit', { ok: sql<number>`1` })
          .as(auditFromCte(ctx.client, tenant.id, 'auth.recovery_codes_regenerated', 'enabled')),
      )
      .select({ ok: sql<boolean>`exists (select 1 from enabled)` })
      .from(sql`(select 1) as one`),
  ]);
  if (result[0]?.ok !== true) throw totpNotEnabled();
  return { recoveryCodes: codes };
}

/** The member behind a still-valid access token is gone here (removed since it was issued). */
function sessionEnded(): ApiError {
  return new ApiError('unauthorized', { detail: 'The session has ended.' });
}

export interface MfaStatus {
  totp: { enabled: boolean; pendingConfirmation: boolean };
  recoveryCodesRemaining: number;
  /** The organization requires a second factor of members whose role has permissions (`settings.requireMfa`). */
  organizationRequiresMfa: boolean;
}

/** The signed-in member's second factors here. One database round trip. */
export async function mfaStatus({ ctx }: { ctx: ServiceContext }): Promise<MfaStatus> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [found] = await scoped(db, { organizationId: tenant.id }, [factorsQuery(ctx, tenant.id, principal.userId)]);
  const row = found[0];
  if (!row) throw sessionEnded();
  const enabled = row.confirmedAt !== null;
  return {
    totp: { enabled, pendingConfirmation: row.ciphertext !== null && !enabled },
    recoveryCodesRemaining: row.recoveryCodes,
    organizationRequiresMfa: tenant.settings.requireMfa === true,
  };
}

export interface Reauthentication {
  accessToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

/**
 * Step-up: the signed-in member proves who they are again (the password, plus a TOTP or recovery code when TOTP is
 * enabled here), which sets the session's `auth_time` (every row of its refresh family) to now, and answers a new
 * access token of the same session with the new `auth_time` and `amr`. Limited like a sign-in (per client address
 * and per account, failures only). Two database round trips (read the account; one statement that stamps the
 * session, spends the code and writes the audit row) and one Redis round trip (the limits).
 */
export async function reauthenticate({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { password: string; method?: FactorInput['method'] | undefined; code?: string | undefined };
}): Promise<Reauthentication> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [found] = await scoped(db, { organizationId: tenant.id }, [factorsQuery(ctx, tenant.id, principal.userId)]);
  const row = found[0];
  if (!row) throw sessionEnded();
  const accountKey = await accountBucket(row.email);
  await enforceLimits(ctx, [
    [AUTH_LIMITS.loginClient, clientBucket(ctx)],
    [AUTH_LIMITS.loginAccount, accountKey],
  ]);
  const check = await checkPassword(ctx, input.password, row.passwordHash);
  if (!check.valid) throw invalidCredentials();
  let factor: Awaited<ReturnType<typeof presentedFactor>> = null;
  if (row.ciphertext !== null && row.confirmedAt !== null) {
    if (input.method === undefined || input.code === undefined) {
      throw new ApiError('invalid_mfa_code', {
        detail: 'This account has two-step verification: send `method` and `code` with the password.',
      });
    }
    factor = await presentedFactor(ctx, tenant.id, principal.userId, row.ciphertext, {
      method: input.method,
      code: input.code,
    });
    if (factor === null) throw invalidCode();
  }
  const amr = factor === null ? ['pwd'] : ['pwd', factor.amr, 'mfa'];
  const proof = db.$with('proof', { ok: sql<number>`1` }).as(factor?.proof ?? sql`select 1`);
  const stamped = db.$with('stamped', { userId: refreshTokens.userId }).as(sql`
    update refresh_tokens set auth_time = now(), amr = ${textArray(amr)}
     where organization_id = ${tenant.id} and family_id = ${principal.sessionId} and user_id = ${principal.userId}
       and revoked_at is null and exists (select 1 from proof)
    returning user_id`);
  const whenStamped = sql`exists (select 1 from stamped)`;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db
      .with(
        proof,
        stamped,
        db.$with('spent', { ok: sql<number>`1` }).as(factor?.spend(whenStamped) ?? sql`select 1`),
        db.$with('audit', { ok: sql<number>`1` }).as(
          auditFromCte(ctx.client, tenant.id, 'auth.reauthenticated', 'stamped', {
            sessionId: principal.sessionId,
            amr,
          }),
        ),
      )
      .select({
        proved: sql<boolean>`exists (select 1 from proof)`,
        stamped: sql<boolean>`exists (select 1 from stamped)`,
        authTime: sql<number>`floor(extract(epoch from now()))::float8`,
      })
      .from(sql`(select 1) as one`),
  ]);
  const outcome = result[0];
  if (outcome?.proved !== true) throw invalidCode();
  if (!outcome.stamped) throw sessionEnded();
  giveBackAccountAttempt(ctx, accountKey);
  const { token, expiresIn } = await issueAccessToken(ctx.bindings.JWT_SIGNING_KEYS, ctx.bindings.ROOT_DOMAIN, {
    userId: principal.userId,
    tenant: tenant.id,
    sessionId: principal.sessionId,
    role: principal.role,
    permissions: [...principal.permissions],
    emailVerified: principal.emailVerified,
    authTime: outcome.authTime,
    amr,
  });
  return { accessToken: token, expiresIn, tokenType: 'Bearer' };
}
