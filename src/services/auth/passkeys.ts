import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import { memberships, passkeys, roles, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { base64urlDecode, base64urlEncode } from '../../lib/crypto.ts';
import { callFeatureWorker } from '../../lib/feature-workers.ts';
import { strictUtf8 } from '../../lib/text.ts';
import type { RedisBatch } from '../../lib/redis-batch.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditInsert } from '../audit/record.ts';
import { brandingQuery, emailBranding, sendLater } from '../email/branding.ts';
import { passkeyAddedEmail } from '../email/passkeys.ts';
import type { Tenant } from '../tenants/types.ts';
import { auditFromCte, invalidCredentials, userColumns, type UserRow } from './account.ts';
import { AUTH_LIMITS, clientBucket, enforceLimits, withLoginLimit } from './limits.ts';
import { hasFeature } from '../plans/quotas.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import { enforcedSsoQuery, ssoEnforcedSql, ssoRequired } from '../sso/enforcement.ts';
import { permissionsOf, session, type Session } from './grant.ts';
import { completeChallenge, openChallenge, type FactorProof } from './mfa-challenge.ts';
import type { WebAuthnApi } from './webauthn.ts';
import {
  generateOpaqueToken,
  hashToken,
  issueAccessToken,
  REFRESH_TOKEN_TTL_SECONDS,
  SESSION_LIFETIME_SECONDS,
  type Principal,
} from './tokens.ts';

/** How long a ceremony's challenge lives (seconds): the options' `timeout` too. */
export const PASSKEY_CHALLENGE_TTL_SECONDS = 300;
/** Passkeys one user may hold in one organization. */
export const MAX_PASSKEYS_PER_USER = 20;
/** The `amr` of a passwordless passkey sign-in (user verification required): a possession and an inherence factor. */
export const PASSKEY_AMR = ['hwk', 'user', 'mfa'] as const;

/** What a ceremony's challenge was issued for; a challenge of one kind never completes another. */
export type CeremonyPurpose = 'register' | 'sign_in' | 'mfa' | 'reauthenticate';

/** A challenge as stored in Redis until its ceremony completes (GETDEL: single use) or it expires. */
export interface StoredChallenge {
  purpose: CeremonyPurpose;
  organizationId: string;
  /** The user the ceremony is for: the signed-in user (register, reauthenticate) or the MFA challenge's. */
  userId?: string;
  /** What else the ceremony is bound to: the session (reauthenticate) or the MFA token's hash (mfa). */
  binding?: string;
}

const challengeKey = (challenge: string) => `webauthn:challenge:${challenge}`;

/** The relying party of this request: the organization's host (as the tenant middleware resolved it) and origin. */
function relyingParty(ctx: ServiceContext, tenant: Tenant) {
  // A tenant request always has its origin (serviceContext sets it from the request URL).
  const origin = ctx.origin as string;
  return { rpID: new URL(origin).hostname, origin, rpName: tenant.name };
}

function invalidPasskey(detail: string): ApiError {
  return new ApiError('invalid_passkey', { detail });
}

/** A call to the WebAuthn Worker (src/workers/webauthn.ts, over the WEBAUTHN binding); unreachable, a 503. */
function webauthn<T>(ctx: ServiceContext, call: (worker: WebAuthnApi) => Promise<T>) {
  // The binding's stub, typed as the methods the Worker implements (see WebAuthnApi).
  const worker = ctx.bindings.WEBAUTHN as unknown as WebAuthnApi;
  return callFeatureWorker(ctx, 'WEBAUTHN', () => call(worker), 'Passkeys are unavailable right now.');
}

/** The challenge a WebAuthn response answers (from its clientDataJSON); malformed client data is a 400. */
function answeredChallenge(response: { response: { clientDataJSON: string } }): string {
  try {
    const clientData: unknown = JSON.parse(strictUtf8(base64urlDecode(response.response.clientDataJSON)));
    const challenge = (clientData as { challenge?: unknown } | null)?.challenge;
    if (typeof challenge === 'string' && challenge.length > 0) return challenge;
  } catch {
    // Falls through to the 400 below.
  }
  throw invalidPasskey('`response.clientDataJSON` is not base64url-encoded client data with a challenge.');
}

/**
 * Stores a new ceremony's challenge (single use, PASSKEY_CHALLENGE_TTL_SECONDS) on `batch`, or on its own round trip
 * when no batch is given.
 */
function storeChallenge(ctx: ServiceContext, challenge: string, stored: StoredChallenge, batch?: RedisBatch) {
  const key = challengeKey(challenge);
  const value = JSON.stringify(stored);
  if (batch) {
    return batch.command((pipeline) => pipeline.set(key, value, { ex: PASSKEY_CHALLENGE_TTL_SECONDS }));
  }
  return ctx.services.redis.set(key, value, { ex: PASSKEY_CHALLENGE_TTL_SECONDS });
}

/** Takes the stored challenge (GETDEL: a second use finds nothing) on `batch`, or on its own round trip. */
function takeChallenge(ctx: ServiceContext, challenge: string, batch?: RedisBatch): Promise<StoredChallenge | null> {
  const key = challengeKey(challenge);
  if (batch) return batch.command((pipeline) => pipeline.getdel<StoredChallenge>(key));
  return ctx.services.redis.getdel<StoredChallenge>(key);
}

/** Whether a stored challenge was issued for this ceremony, organization, user and binding. */
function challengeFits(stored: StoredChallenge | null, expected: StoredChallenge): boolean {
  return (
    stored !== null &&
    stored.purpose === expected.purpose &&
    stored.organizationId === expected.organizationId &&
    stored.userId === expected.userId &&
    stored.binding === expected.binding
  );
}

export interface PasskeyView {
  id: string;
  name: string;
  deviceType: string;
  backedUp: boolean;
  transports: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

const passkeyColumns = {
  id: passkeys.id,
  name: passkeys.name,
  deviceType: passkeys.deviceType,
  backedUp: passkeys.backedUp,
  transports: passkeys.transports,
  createdAt: passkeys.createdAt,
  lastUsedAt: passkeys.lastUsedAt,
};

function passkeyView(row: {
  id: string;
  name: string;
  deviceType: string;
  backedUp: boolean;
  transports: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
}): PasskeyView {
  return {
    ...row,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

/** A stored passkey as a credential descriptor of options (`excludeCredentials`, `allowCredentials`). */
function descriptor(row: { credentialId: string; transports: string[] }) {
  return { id: row.credentialId, transports: row.transports as AuthenticatorTransport[] };
}

/**
 * Request options (`navigator.credentials.get()`) of this host, user verification required, allowing `allow` (none:
 * discoverable credentials), with `challenge` when the ceremony brings its own (else a random one).
 */
function requestOptions(
  ctx: ServiceContext,
  tenant: Tenant,
  allow: readonly { credentialId: string; transports: string[] }[],
  challenge?: Uint8Array<ArrayBuffer>,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const rpID = relyingParty(ctx, tenant).rpID;
  return webauthn(ctx, (worker) =>
    worker.authenticationOptions({
      rpID,
      userVerification: 'required',
      timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
      allowCredentials: allow.map(descriptor),
      ...(challenge === undefined ? {} : { challenge }),
    }),
  );
}

/** The user handle of a (organization, user)'s passkeys: the user id's bytes (no personal data). */
function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new TextEncoder().encode(userId));
}

/**
 * Options for registering a passkey (`navigator.credentials.create()`): RP ID = this host, a discoverable credential
 * with user verification, `none` attestation, the user's existing passkeys excluded. The challenge is stored for
 * PASSKEY_CHALLENGE_TTL_SECONDS, bound to this organization and user. One database round trip (the user and their
 * passkeys) and one Redis round trip (the challenge).
 */
export async function passkeyRegistrationOptions({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [found, existing] = await scoped(db, { organizationId: tenant.id }, [
    db.select({ email: users.email, name: users.name }).from(users).where(eq(users.id, principal.userId)),
    db
      .select({ credentialId: passkeys.credentialId, transports: passkeys.transports })
      .from(passkeys)
      .where(and(eq(passkeys.organizationId, tenant.id), eq(passkeys.userId, principal.userId))),
  ]);
  const user = found[0];
  if (!user) throw new ApiError('unauthorized', { detail: 'The session has ended.' });
  if (existing.length >= MAX_PASSKEYS_PER_USER) {
    throw new ApiError('conflict', {
      detail: `You have ${MAX_PASSKEYS_PER_USER} passkeys here, the most an account may hold; remove one first.`,
    });
  }
  const party = relyingParty(ctx, tenant);
  const options = await webauthn(ctx, (worker) =>
    worker.registrationOptions({
      rpName: party.rpName,
      rpID: party.rpID,
      userID: userHandle(principal.userId),
      userName: user.email,
      userDisplayName: user.name,
      timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map(descriptor),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      // ES256 (every authenticator), EdDSA, RS256 (Windows Hello).
      supportedAlgorithmIDs: [-7, -8, -257],
    }),
  );
  await storeChallenge(ctx, options.challenge, {
    purpose: 'register',
    organizationId: tenant.id,
    userId: principal.userId,
  });
  return options;
}

/**
 * Registers the passkey a `navigator.credentials.create()` answered with: the challenge must be one this user was
 * given here (single use), the origin this host's, the RP ID this host, user verification done. Stores the credential
 * and an audit row in one batch and emails "passkey added" after the response. One Redis round trip (the challenge)
 * and one database round trip. A credential registered here already is a 409.
 */
export async function registerPasskey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { name: string; response: RegistrationResponseJSON };
}): Promise<PasskeyView> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const challenge = answeredChallenge(input.response);
  const stored = await takeChallenge(ctx, challenge);
  if (!challengeFits(stored, { purpose: 'register', organizationId: tenant.id, userId: principal.userId })) {
    throw invalidPasskey('The challenge is unknown, used or expired: ask for new registration options.');
  }
  const party = relyingParty(ctx, tenant);
  const verdict = await webauthn(ctx, (worker) =>
    worker.verifyRegistration({
      response: input.response,
      expectedChallenge: challenge,
      expectedOrigin: party.origin,
      expectedRPID: party.rpID,
      requireUserVerification: true,
    }),
  );
  if (!verdict.ok) throw invalidPasskey(`The passkey could not be verified: ${verdict.refusal}`);
  const info = verdict.value;
  const db = ctx.services.db;
  const id = crypto.randomUUID();
  const transports = input.response.response.transports ?? [];
  // One statement: the credential (nothing when this organization has it already), the audit row only if it was
  // added, and the address for the notice.
  const [result, organization] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ created_at: string; email: string }>(sql`
      with added as (
        insert into passkeys (organization_id, id, user_id, credential_id, public_key, counter, transports,
                              device_type, backed_up, name, aaguid)
        values (${tenant.id}, ${id}, ${principal.userId}, ${info.credentialId}, ${info.publicKey}, ${info.counter},
                ${sql.param(transports)}::text[], ${info.deviceType}, ${info.backedUp}, ${input.name}, ${info.aaguid})
        on conflict (organization_id, credential_id) do nothing
        returning user_id, created_at
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.passkey_added', 'added', {
        passkeyId: id,
        name: input.name,
        deviceType: info.deviceType,
        backedUp: info.backedUp,
      })})
      select to_char(added.created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at, users.email
        from added join users on users.id = added.user_id`),
    brandingQuery(db, tenant.id),
  ]);
  const row = result.rows[0];
  if (!row) throw new ApiError('conflict', { detail: 'This passkey is registered here already.' });
  sendLater(
    ctx,
    passkeyAddedEmail({
      id: `passkey-added:${id}`,
      to: row.email,
      passkeyName: input.name,
      branding: emailBranding(organization[0]),
    }),
  );
  return {
    id,
    name: input.name,
    deviceType: info.deviceType,
    backedUp: info.backedUp,
    transports,
    createdAt: row.created_at,
    lastUsedAt: null,
  };
}

/** The signed-in user's passkeys here, oldest first. One database round trip. */
export async function listPasskeys({ ctx }: { ctx: ServiceContext }): Promise<PasskeyView[]> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select(passkeyColumns)
      .from(passkeys)
      .where(and(eq(passkeys.organizationId, tenant.id), eq(passkeys.userId, principal.userId)))
      .orderBy(asc(passkeys.createdAt), asc(passkeys.id)),
  ]);
  return rows.map(passkeyView);
}

/** Renames one of the signed-in user's passkeys; another user's (or organization's) is a 404. One round trip. */
export async function renamePasskey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; name: string };
}): Promise<PasskeyView> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .update(passkeys)
      .set({ name: input.name })
      .where(
        and(eq(passkeys.organizationId, tenant.id), eq(passkeys.userId, principal.userId), eq(passkeys.id, input.id)),
      )
      .returning(passkeyColumns),
  ]);
  const row = rows[0];
  if (!row) throw new ApiError('not_found', { detail: 'No such passkey.' });
  return passkeyView(row);
}

/**
 * Removes one of the signed-in user's passkeys (with its audit row, in the same statement); another user's (or
 * organization's) is a 404 and nothing changes. One database round trip.
 */
export async function removePasskey({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ id: string }>(sql`
      with removed as (
        delete from passkeys
         where organization_id = ${tenant.id} and user_id = ${principal.userId} and id = ${input.id}
        returning id, user_id
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.passkey_removed', 'removed', { passkeyId: input.id })})
      select id from removed`),
  ]);
  if (result.rows.length === 0) throw new ApiError('not_found', { detail: 'No such passkey.' });
}

/**
 * Options for signing in with a passkey, passwordless: discoverable credentials (empty `allowCredentials`), user
 * verification required. Limited per client address with the password sign-in (AUTH_LIMITS.loginClient). One Redis
 * round trip (the limit and the challenge), no database round trip.
 */
export async function passkeySignInOptions({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const tenant = requireTenant(ctx);
  const options = await requestOptions(ctx, tenant, []);
  await withLoginLimit(ctx, (batch) =>
    storeChallenge(ctx, options.challenge, { purpose: 'sign_in', organizationId: tenant.id }, batch),
  );
  return options;
}

/** A passkey that answered an assertion, with its user's membership here. */
export interface VerifiedAssertion {
  passkeyId: string;
  user: UserRow;
  roleKey: string;
  permissions: string[];
  /** The counter the authenticator reported, stored by the caller's write (`counterBump`). */
  newCounter: number;
  backedUp: boolean;
}

/**
 * Checks a WebAuthn assertion of this host against `challenge` (which the caller has matched to its ceremony), this
 * host's origin and RP ID, the stored public key, user verification, the user handle and the signature counter. Null
 * for anything that is not a valid assertion of an active member's passkey here (of `userId`, when the ceremony is
 * for a known user: MFA, re-authentication); a signed assertion whose counter did not increase (a cloned
 * authenticator) is also audited, after the response. One database round trip (the passkey, its user, membership and
 * role).
 */
export async function verifyAssertion(
  ctx: ServiceContext,
  tenant: Tenant,
  response: AuthenticationResponseJSON,
  challenge: string,
  userId?: string,
): Promise<VerifiedAssertion | null> {
  const db = ctx.services.db;
  const [found] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        ...userColumns,
        passkeyId: passkeys.id,
        publicKey: passkeys.publicKey,
        counter: passkeys.counter,
        transports: passkeys.transports,
        roleKey: roles.key,
        permissions: roles.permissions,
      })
      .from(passkeys)
      .innerJoin(
        memberships,
        and(
          eq(memberships.organizationId, passkeys.organizationId),
          eq(memberships.userId, passkeys.userId),
          eq(memberships.status, 'active'),
        ),
      )
      .innerJoin(users, eq(users.id, passkeys.userId))
      .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
      .where(and(eq(passkeys.organizationId, tenant.id), eq(passkeys.credentialId, response.id))),
  ]);
  const row = found[0];
  if (!row || (userId !== undefined && row.id !== userId)) return null;
  const handle = response.response.userHandle;
  if (handle !== undefined && handle !== base64urlEncode(userHandle(row.id))) return null;
  const party = relyingParty(ctx, tenant);
  const verdict = await webauthn(ctx, (worker) =>
    worker.verifyAuthentication({
      response,
      expectedChallenge: challenge,
      expectedOrigin: party.origin,
      expectedRPID: party.rpID,
      requireUserVerification: true,
      // The library's counter check is replaced by ours below, which tells a cloned authenticator apart (audited).
      credential: {
        id: response.id,
        publicKey: row.publicKey,
        counter: 0,
        transports: row.transports as AuthenticatorTransport[],
      },
    }),
  );
  if (!verdict.ok) return null;
  const { newCounter, backedUp: credentialBackedUp } = verdict.value;
  if (!counterAdvances(row.counter, newCounter)) {
    ctx.waitUntil(counterRegressed(ctx, tenant, row.id, row.passkeyId, row.counter, newCounter));
    return null;
  }
  return {
    passkeyId: row.passkeyId,
    user: row,
    roleKey: row.roleKey,
    permissions: row.permissions,
    newCounter,
    backedUp: credentialBackedUp,
  };
}

/**
 * WebAuthn §7.2 step 22: an authenticator that keeps a counter must report more than last time; one that reports 0
 * after a non-zero value, or the same value again, may be a clone. 0 after 0 is an authenticator without a counter.
 */
function counterAdvances(stored: number, reported: number): boolean {
  return (stored === 0 && reported === 0) || reported > stored;
}

function counterRegressed(
  ctx: ServiceContext,
  tenant: Tenant,
  userId: string,
  passkeyId: string,
  stored: number,
  reported: number,
) {
  const db = ctx.services.db;
  return scoped(db, { organizationId: tenant.id }, [
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: { type: 'anonymous' },
      action: 'auth.passkey_counter_regressed',
      target: { type: 'user', id: userId },
      metadata: { passkeyId, storedCounter: stored, reportedCounter: reported },
    }),
  ]);
}

/**
 * A CTE (`bumped`, returning `user_id`) that stores the counter and use of a verified assertion only if the counter
 * still advances (a concurrent assertion of a clone with the same counter loses here), for the caller's statement.
 */
function counterBump(tenant: Tenant, assertion: VerifiedAssertion) {
  return sql`bumped as (${spendAssertion(tenant, assertion, stillAdvances(assertion))} returning user_id)`;
}

/** SQL: the stored counter is still below the assertion's (or both are 0): `counterAdvances`, in the statement. */
function stillAdvances(assertion: VerifiedAssertion) {
  return sql`((counter = 0 and ${assertion.newCounter}::bigint = 0) or counter < ${assertion.newCounter}::bigint)`;
}

/** SQL: stores the assertion's counter, backup state and use, where `condition` holds. */
function spendAssertion(tenant: Tenant, assertion: VerifiedAssertion, condition: SQL) {
  return sql`update passkeys set counter = ${assertion.newCounter}, backed_up = ${assertion.backedUp},
                                 last_used_at = now()
              where organization_id = ${tenant.id} and id = ${assertion.passkeyId} and ${condition}`;
}

/**
 * Signs in with a passkey, passwordless: a discoverable credential's assertion with user verification (`verifyAssertion`)
 * answering a sign-in challenge of this host. The session's `amr` is `['hwk', 'user', 'mfa']` (a possession factor
 * unlocked by biometrics or a PIN). Limited per client address with the password sign-in. One Redis round trip (the
 * limit and the challenge, taken whatever the outcome) and two database round trips: the passkey (the public key is
 * needed before anything can be decided), then one statement that advances the counter, stores the refresh token,
 * moves the last-login time and writes the `auth.login` audit row, all only if the counter still advances.
 */
export async function signInWithPasskey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { response: AuthenticationResponseJSON };
}): Promise<Session> {
  const tenant = requireTenant(ctx);
  const challenge = answeredChallenge(input.response);
  const stored = await withLoginLimit(ctx, (batch) => takeChallenge(ctx, challenge, batch));
  if (!challengeFits(stored, { purpose: 'sign_in', organizationId: tenant.id })) throw invalidCredentials();
  const assertion = await verifyAssertion(ctx, tenant, input.response, challenge);
  if (!assertion) throw invalidCredentials();
  const refreshToken = generateOpaqueToken('rt');
  const familyId = crypto.randomUUID();
  const db = ctx.services.db;
  // SSO enforced for the account's email domain holds for passkeys too (owners excepted, as with passwords).
  const ssoOrganization = hasFeature(tenant, 'sso') && assertion.roleKey !== OWNER_ROLE ? tenant.id : null;
  const [result, enforcement] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ user_id: string }>(sql`
      with ${counterBump(tenant, assertion)},
      family as (
        insert into refresh_tokens (organization_id, user_id, family_id, token_hash, expires_at, session_expires_at,
                                    amr, ip, user_agent)
        select ${tenant.id}::uuid, user_id, ${familyId}::uuid, ${await hashToken(refreshToken)}::text,
               now() + make_interval(secs => ${REFRESH_TOKEN_TTL_SECONDS}),
               now() + make_interval(secs => ${SESSION_LIFETIME_SECONDS}), ${sql.param([...PASSKEY_AMR])}::text[],
               ${ctx.client.ip}::text, ${ctx.client.userAgent}::text
          from bumped
         where not ${ssoOrganization === null ? sql`false` : ssoEnforcedSql(ssoOrganization, assertion.user.email)}
        returning user_id
      ), last_login as (
        update memberships set last_login_at = now()
         where organization_id = ${tenant.id} and user_id in (select user_id from family)
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.login', 'family', {
        sessionId: familyId,
        method: 'passkey',
        passkeyId: assertion.passkeyId,
      })})
      select user_id from family`),
    enforcedSsoQuery(db, ssoOrganization, assertion.user.email),
  ]);
  const sso = enforcement[0];
  if (sso !== undefined) throw ssoRequired(sso);
  if (result.rows.length === 0) throw invalidCredentials();
  return session(
    ctx,
    assertion.user,
    {
      tenant: tenant.id,
      sessionId: familyId,
      role: assertion.roleKey,
      permissions: permissionsOf(assertion.permissions),
      amr: PASSKEY_AMR,
    },
    refreshToken,
  );
}

/** The user's passkeys here, for `allowCredentials`; 400 when there are none (the ceremony cannot succeed). */
async function usersPasskeys(ctx: ServiceContext, tenant: Tenant, userId: string) {
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ credentialId: passkeys.credentialId, transports: passkeys.transports })
      .from(passkeys)
      .where(and(eq(passkeys.organizationId, tenant.id), eq(passkeys.userId, userId))),
  ]);
  if (rows.length === 0) {
    throw new ApiError('bad_request', { detail: 'This account has no passkey here: use another method.' });
  }
  return rows;
}

/**
 * Options for completing an MFA sign-in challenge with a passkey: the challenge is the MFA challenge's own
 * `webauthnChallenge` (sealed in the mfa token: nothing is stored, and the MFA challenge's single use covers it),
 * `allowCredentials` the user's passkeys here. Limited per client address with sign-in. One Redis round trip (the
 * limit) and one database round trip.
 */
export async function mfaPasskeyOptions({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { mfaToken: string };
}): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const tenant = requireTenant(ctx);
  const challenge = await openChallenge(ctx, input.mfaToken);
  await enforceLimits(ctx, [[AUTH_LIMITS.loginClient, clientBucket(ctx)]]);
  const allow = await usersPasskeys(ctx, tenant, challenge.userId);
  return requestOptions(ctx, tenant, allow, base64urlDecode(challenge.webauthnChallenge));
}

/**
 * Completes an MFA sign-in challenge with a passkey assertion (the mfa helper's `completeChallenge`: its limits, its
 * audit and its single use): the assertion must answer the challenge's `webauthnChallenge` with a passkey of the
 * challenge's user. The session's `amr` is the first factor's plus `hwk`, `user` and `mfa`. The counter is advanced in
 * the completing statement, only if it still advances and the session was issued.
 */
export async function verifyMfaWithPasskey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { mfaToken: string; response: AuthenticationResponseJSON };
}): Promise<Session> {
  const tenant = requireTenant(ctx);
  const answered = answeredChallenge(input.response);
  const signedIn = await completeChallenge(ctx, {
    mfaToken: input.mfaToken,
    check: async (challenge): Promise<FactorProof | null> => {
      if (answered !== challenge.webauthnChallenge) return null;
      const assertion = await verifyAssertion(ctx, tenant, input.response, answered, challenge.userId);
      if (!assertion) return null;
      return {
        method: 'webauthn',
        amr: ['hwk', 'user'],
        proof: sql`select 1 from passkeys
          where organization_id = ${tenant.id} and id = ${assertion.passkeyId} and user_id = ${challenge.userId}
            and ${stillAdvances(assertion)} for update`,
        spend: (issued) => spendAssertion(tenant, assertion, issued),
        audit: { passkeyId: assertion.passkeyId },
      };
    },
  });
  const { user, accessToken, refreshToken, expiresIn, tokenType } = signedIn;
  return { user, accessToken, refreshToken, expiresIn, tokenType };
}

/**
 * Options for re-authenticating (step-up) with a passkey: the signed-in user's passkeys here, the challenge bound to
 * this organization, user and session (single use, PASSKEY_CHALLENGE_TTL_SECONDS). One database round trip and one
 * Redis round trip (after the session's admission).
 */
export async function reauthenticationPasskeyOptions({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const allow = await usersPasskeys(ctx, tenant, principal.userId);
  const options = await requestOptions(ctx, tenant, allow);
  await storeChallenge(ctx, options.challenge, reauthenticationBinding(tenant, principal));
  return options;
}

function reauthenticationBinding(tenant: Tenant, principal: Principal): StoredChallenge {
  return {
    purpose: 'reauthenticate',
    organizationId: tenant.id,
    userId: principal.userId,
    binding: principal.sessionId,
  };
}

/**
 * Step-up with a passkey alone: an assertion (user verification required) of one of the signed-in user's passkeys,
 * answering a challenge of `reauthenticationPasskeyOptions` for this session. One statement advances the counter, sets
 * the session's `auth_time` (every row of its refresh family) to now with `amr` `['hwk', 'user', 'mfa']` and writes
 * the `auth.reauthenticated` audit row; the answer is a new access token of the same session. Limited per client
 * address with sign-in. One Redis round trip (the limit and the challenge) and two database round trips (the passkey,
 * then the statement), after the session's admission.
 */
export async function reauthenticateWithPasskey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { response: AuthenticationResponseJSON };
}): Promise<{ accessToken: string; expiresIn: number; tokenType: 'Bearer' }> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const challenge = answeredChallenge(input.response);
  const stored = await withLoginLimit(ctx, (batch) => takeChallenge(ctx, challenge, batch));
  if (!challengeFits(stored, reauthenticationBinding(tenant, principal))) throw invalidCredentials();
  const assertion = await verifyAssertion(ctx, tenant, input.response, challenge, principal.userId);
  if (!assertion) throw invalidCredentials();
  const amr = [...PASSKEY_AMR];
  const db = ctx.services.db;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ auth_time: number | string }>(sql`
      with ${counterBump(tenant, assertion)},
      stamped as (
        update refresh_tokens set auth_time = now(), amr = ${sql.param(amr)}::text[]
         where organization_id = ${tenant.id} and family_id = ${principal.sessionId} and user_id = ${principal.userId}
           and revoked_at is null and exists (select 1 from bumped)
        returning user_id
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.reauthenticated', 'stamped', {
        sessionId: principal.sessionId,
        amr,
        method: 'passkey',
        passkeyId: assertion.passkeyId,
      })})
      select floor(extract(epoch from now()))::float8 as auth_time where exists (select 1 from stamped)`),
  ]);
  // Nothing stamped: the counter lost a race with a clone, or the session has no live refresh family.
  const stamped = result.rows[0];
  if (!stamped) throw invalidCredentials();
  const { token, expiresIn } = await issueAccessToken(ctx.bindings.JWT_SIGNING_KEYS, ctx.bindings.ROOT_DOMAIN, {
    userId: principal.userId,
    tenant: tenant.id,
    sessionId: principal.sessionId,
    role: principal.role,
    permissions: [...principal.permissions],
    emailVerified: principal.emailVerified,
    authTime: Number(stamped.auth_time),
    amr,
  });
  return { accessToken: token, expiresIn, tokenType: 'Bearer' };
}
