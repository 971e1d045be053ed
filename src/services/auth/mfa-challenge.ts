import { and, eq, sql, type SQL } from 'drizzle-orm';
import { memberships, mfaRecoveryCodes, refreshTokens, roles, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { base64urlEncode, decryptSecret, encryptSecret } from '../../lib/crypto.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { brandingQuery, emailBranding } from '../email/branding.ts';
import type { Branding } from '../email/messages.ts';
import { auditFromCte, userColumns } from './account.ts';
import { AUTH_LIMITS, clientBucket, enforceLimits, giveBackAccountAttempt } from './limits.ts';
import { LOGIN_TIME, recordLogin } from './login-record.ts';
import { permissionsOf, session, type Session } from './grant.ts';
import { generateOpaqueToken, hashToken, REFRESH_TOKEN_TTL_SECONDS, SESSION_LIFETIME_SECONDS } from './tokens.ts';

/**
 * The MFA sign-in challenge: what a password sign-in of an enrolled member answers instead of tokens, and what the
 * second step (a TOTP or recovery code, or a passkey) completes.
 *
 * The challenge token is sealed, not stored: `mfa_` + AES-GCM (DATA_ENCRYPTION_KEY, src/lib/crypto.ts) of the
 * challenge, with the organization id in the additional data, so a token opens only on the host of the organization
 * that issued it, cannot be forged or altered, and carries its own expiry. Issuing it costs no round trip, which keeps
 * the sign-in's first step at login's budget (1 database + 1 Redis round trip).
 *
 * Single use is enforced in the database, in the completing statement: the challenge names the session (refresh
 * family) it may start, and a family has one root (`refresh_tokens_family_root_key`), so a second completion of the
 * same challenge, sequential or concurrent, inserts nothing and is refused. The factor is spent in the same
 * statement and only if the session was issued: a replayed challenge does not burn the code presented with it.
 */

export const MFA_CHALLENGE_TTL_SECONDS = 300;

/** Second factors a challenge may be completed with (the `methods` of the login answer). */
export type MfaMethod = 'totp' | 'webauthn' | 'recovery_code';

export interface MfaChallenge {
  /** The session (refresh family) id the completion starts: also the challenge's identity (single use). */
  id: string;
  organizationId: string;
  userId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** The factors the user may complete it with (enrolled ones, or those to enrol when `enrollmentRequired`). */
  methods: MfaMethod[];
  /** The organization requires MFA and the member has none: the token only allows enrolment and its completion. */
  enrollmentRequired: boolean;
  /** The first factor's `amr` (`['pwd']`). */
  amr: string[];
  /** A random base64url challenge (32 bytes) for WebAuthn options bound to this MFA challenge. */
  webauthnChallenge: string;
  /** The TOTP secret's ciphertext as stored when the challenge was issued (null without TOTP). */
  totpCiphertext: string | null;
}

const TOKEN = /^mfa_(v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

function invalidChallenge(detail = 'The MFA challenge is invalid, expired or used; sign in again.'): ApiError {
  return new ApiError('mfa_challenge_invalid', { detail });
}

/** Seals a new challenge for `fields` (no I/O): the token the client sends back, and its lifetime in seconds. */
export async function issueChallenge(
  ctx: Pick<ServiceContext, 'bindings'>,
  fields: Pick<MfaChallenge, 'organizationId' | 'userId' | 'methods' | 'enrollmentRequired' | 'amr' | 'totpCiphertext'>,
  now = Date.now(),
): Promise<{ mfaToken: string; expiresIn: number; challenge: MfaChallenge }> {
  const challenge: MfaChallenge = {
    ...fields,
    id: crypto.randomUUID(),
    expiresAt: Math.floor(now / 1000) + MFA_CHALLENGE_TTL_SECONDS,
    webauthnChallenge: base64urlEncode(crypto.getRandomValues(new Uint8Array(32))),
  };
  const sealed = await encryptSecret(
    ctx.bindings.DATA_ENCRYPTION_KEY,
    { organizationId: fields.organizationId, purpose: 'mfa_challenge' },
    JSON.stringify(challenge),
  );
  return { mfaToken: `mfa_${sealed}`, expiresIn: MFA_CHALLENGE_TTL_SECONDS, challenge };
}

/**
 * Opens a live challenge of this host's organization (no I/O; it does not spend it): 401 `mfa_challenge_invalid`
 * for a malformed, altered or expired token and for one issued on another organization's host. Used challenges are
 * refused only when completing (`completeChallenge`).
 */
export async function openChallenge(
  ctx: Pick<ServiceContext, 'bindings' | 'tenant'>,
  mfaToken: string,
  now = Date.now(),
): Promise<MfaChallenge> {
  const tenant = requireTenant(ctx);
  const sealed = TOKEN.exec(mfaToken)?.[1];
  if (sealed === undefined) throw invalidChallenge();
  let challenge: MfaChallenge;
  try {
    const text = await decryptSecret(
      ctx.bindings.DATA_ENCRYPTION_KEY,
      { organizationId: tenant.id, purpose: 'mfa_challenge' },
      sealed,
    );
    challenge = JSON.parse(text) as MfaChallenge;
  } catch {
    throw invalidChallenge();
  }
  // The organization is the additional data of the seal: another organization's token does not open here at all.
  if (challenge.expiresAt <= Math.floor(now / 1000)) throw invalidChallenge();
  return challenge;
}

/** What a factor check hands back when the presented factor is right (its SQL runs in the completing statement). */
export interface FactorProof {
  method: MfaMethod;
  /** The `amr` values the factor adds (`['otp']`, `['rcode']`, `['hwk']`); `mfa` is added by the challenge. */
  amr: readonly string[];
  /**
   * A query (a CTE body) that returns a row only while the factor still holds, locking the row it will spend
   * (`for update`, so a concurrent completion re-checks it after this one commits). No row: 401 `invalid_mfa_code`.
   */
  proof: SQL;
  /**
   * The statement (a CTE body) that spends the factor; `issued` is the condition `exists (select 1 from issued)`,
   * which it must AND into its WHERE so nothing is spent when the challenge was already used.
   */
  spend: (issued: SQL) => SQL;
  /** More statements (CTE bodies) that run only when the session was issued, e.g. storing recovery codes. */
  also?: (issued: SQL) => SQL[];
  /** Extra audit metadata for `auth.mfa_verified` (never secrets). */
  audit?: Record<string, unknown>;
}

/** A wrong code: the same 401 whether the code is malformed, wrong, or already used in its step. */
export function invalidCode(): ApiError {
  return new ApiError('invalid_mfa_code', { detail: 'The verification code is invalid or was already used.' });
}

export interface CompletedSignIn extends Session {
  refreshToken: string;
  /** The challenge (for the caller's own follow-up, e.g. recovery codes to show after an enrolment). */
  challenge: MfaChallenge;
  /** Unused recovery codes before this completion spent anything. */
  recoveryCodesBefore: number;
  /** The organization's email branding (for a security notice). */
  branding: Branding;
}

/**
 * Completes the challenge `mfaToken` with a second factor and answers the session: opens the challenge (401
 * `mfa_challenge_invalid`), takes one unit of the second step's limits (per client address, per account: one Redis
 * round trip; 429 beyond them), runs `check` (the factor's own verification, e.g. the TOTP code against the secret;
 * null when wrong), then ONE database statement proves the factor still holds, starts the session (the refresh
 * family named by the challenge: a used challenge starts nothing), spends the factor, writes the `auth.mfa_verified`
 * audit row, and reads the role. The `auth.login` record follows through the audit queue, as for a password sign-in.
 *
 * A failure is audited after the response (`auth.mfa_failed`) and keeps its limit unit; a success gives the
 * account's unit back.
 *
 * @example
 * const signedIn = await completeChallenge(ctx, { mfaToken, check: async (challenge) => ({ method: 'webauthn', ... }) });
 */
export async function completeChallenge(
  ctx: ServiceContext,
  input: {
    mfaToken: string;
    check: (challenge: MfaChallenge) => Promise<FactorProof | null>;
    /** Allow completing an enrolment challenge (`enrollmentRequired`): only the enrolment routes do. */
    enrolment?: boolean;
  },
): Promise<CompletedSignIn> {
  const challenge = await openChallenge(ctx, input.mfaToken);
  if (challenge.enrollmentRequired && input.enrolment !== true) {
    throw new ApiError('mfa_enrollment_required', {
      detail: 'This organization requires a second factor: enrol one with this MFA token first.',
    });
  }
  const accountKey = await mfaAccountBucket(challenge.userId);
  await enforceLimits(ctx, [
    [AUTH_LIMITS.mfaClient, clientBucket(ctx)],
    [AUTH_LIMITS.mfaAccount, accountKey],
    [AUTH_LIMITS.mfaAccountDay, accountKey],
  ]);
  const factor = await input.check(challenge);
  if (factor === null) throw failed(ctx, challenge, 'wrong_code');
  const db = ctx.services.db;
  const refreshToken = generateOpaqueToken('rt');
  const amr = [...challenge.amr, ...factor.amr, 'mfa'];
  const tenantId = challenge.organizationId;
  const proof = db.$with('proof', { ok: sql<number>`1` }).as(factor.proof);
  const issued = db.$with('issued', { familyId: refreshTokens.familyId }).as(sql`
    insert into refresh_tokens (organization_id, user_id, family_id, token_hash, expires_at, session_expires_at, amr,
                                ip, user_agent)
    select m.organization_id, m.user_id, ${challenge.id}::uuid, ${await hashToken(refreshToken)}::text,
           now() + make_interval(secs => ${REFRESH_TOKEN_TTL_SECONDS}),
           now() + make_interval(secs => ${SESSION_LIFETIME_SECONDS}), ${`{${amr.join(',')}}`}::text[],
           ${ctx.client.ip}::text, ${ctx.client.userAgent}::text
      from memberships m
     where m.organization_id = ${tenantId}::uuid and m.user_id = ${challenge.userId}::uuid and m.status = 'active'
       and exists (select 1 from proof)
    on conflict (organization_id, family_id) where parent_id is null do nothing
    returning user_id, family_id`);
  const whenIssued = sql`exists (select 1 from issued)`;
  const spent = db.$with('spent', { ok: sql<number>`1` }).as(factor.spend(whenIssued));
  const more = (factor.also?.(whenIssued) ?? []).map((statement, index) =>
    db.$with(`also_${index}`, { ok: sql<number>`1` }).as(statement),
  );
  const audit = db.$with('audit', { ok: sql<number>`1` }).as(
    auditFromCte(ctx.client, tenantId, 'auth.mfa_verified', 'issued', {
      sessionId: challenge.id,
      method: factor.method,
      ...factor.audit,
    }),
  );
  const [found, organization] = await scoped(db, { organizationId: tenantId }, [
    db
      .with(proof, issued, spent, audit, ...more)
      .select({
        ...userColumns,
        roleKey: roles.key,
        permissions: roles.permissions,
        proved: sql<boolean>`exists (select 1 from proof)`,
        issued: sql<boolean>`exists (select 1 from issued)`,
        recoveryCodes: sql<number>`(select count(*) from ${mfaRecoveryCodes} c
          where c.organization_id = ${tenantId} and c.user_id = ${users.id} and c.used_at is null)::int`,
        at: LOGIN_TIME,
      })
      .from(users)
      .innerJoin(memberships, and(eq(memberships.organizationId, tenantId), eq(memberships.userId, users.id)))
      .innerJoin(roles, and(eq(roles.organizationId, tenantId), eq(roles.id, memberships.roleId)))
      .where(eq(users.id, challenge.userId)),
    brandingQuery(db, tenantId),
  ]);
  const row = found[0];
  if (row?.proved === false) throw failed(ctx, challenge, 'code_refused', factor.method);
  if (!row?.issued) throw invalidChallenge();
  await recordLogin(ctx, tenantId, { userId: row.id, sessionId: challenge.id, rehashed: false, at: row.at });
  giveBackAccountAttempt(ctx, accountKey, [AUTH_LIMITS.mfaAccount, AUTH_LIMITS.mfaAccountDay]);
  const signedIn = await session(
    ctx,
    row,
    { tenant: tenantId, sessionId: challenge.id, role: row.roleKey, permissions: permissionsOf(row.permissions), amr },
    refreshToken,
  );
  return {
    ...signedIn,
    refreshToken,
    challenge,
    recoveryCodesBefore: row.recoveryCodes,
    branding: emailBranding(organization[0]),
  };
}

/** The second step's account bucket: the user (a global identity), hashed like the login's. */
export function mfaAccountBucket(userId: string): Promise<string> {
  return hashToken(`mfa-account:${userId}`);
}

/** Audits a refused second step after the response (its own round trip, off the request) and answers the 401. */
function failed(ctx: ServiceContext, challenge: MfaChallenge, reason: string, method?: MfaMethod): ApiError {
  const db = ctx.services.db;
  ctx.waitUntil(
    scoped(db, { organizationId: challenge.organizationId }, [
      auditInsert(db, ctx.client, {
        organizationId: challenge.organizationId,
        actor: { type: 'anonymous' },
        action: 'auth.mfa_failed',
        target: { type: 'user', id: challenge.userId },
        metadata: { reason, ...(method === undefined ? {} : { method }) },
      }),
    ]),
  );
  return invalidCode();
}
