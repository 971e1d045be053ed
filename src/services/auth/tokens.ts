import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { ApiError } from '../../errors/api-error.ts';
import { isPermission, type Permission } from './permissions.ts';
import { JWT_ALGORITHM, signingKeys } from './keys.ts';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/**
 * The longest an impersonation lasts, and so the longest any access token lives (an impersonation token is never
 * refreshed: it lives as long as the impersonation). Revocation records outlive it (src/services/auth/revocation.ts).
 */
export const MAX_IMPERSONATION_SECONDS = 60 * 60;
/** A refresh token unused this long expires (the idle timeout); rotation starts it again, up to the session's end. */
export const REFRESH_TOKEN_TTL_SECONDS = 14 * 24 * 60 * 60;
/** The absolute session lifetime (ASVS V7.3): a refresh family ends this long after sign-in, however often used. */
export const SESSION_LIFETIME_SECONDS = 30 * 24 * 60 * 60;
export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const AUDIENCE = 'eventra-api';
/** The tenant claim of tokens issued on the platform host (to platform administrators). */
export const PLATFORM_TENANT = 'platform';
const CLOCK_TOLERANCE_SECONDS = 30;

export function issuer(rootDomain: string): string {
  return `https://${rootDomain}`;
}

/** Who is calling, from a verified access token. */
export interface Principal {
  userId: string;
  /** The organization id, or PLATFORM_TENANT. */
  tenant: string;
  /** The session (refresh-token family) this token belongs to. */
  sessionId: string;
  role: string;
  permissions: ReadonlySet<Permission>;
  emailVerified: boolean;
  /** Issue time in milliseconds (finer than `iat`, for "sessions ended before" checks). */
  issuedAtMs: number;
  /**
   * When the user last proved who they are in this session (sign-in or re-authentication), in seconds since the
   * epoch: the `auth_time` claim (RFC 9068 2.2.1). Refreshing a session keeps it; step-up (`requireRecentAuth()`)
   * compares it with the clock.
   */
  authTime: number;
  /** How the user proved it: the `amr` claim (RFC 8176 values, e.g. `pwd`, `otp`, `hwk`, `mfa`). */
  amr: readonly string[];
  /** The kind of credential: an access token of a signed-in session (`session`) or an integration's API key. */
  credential: 'session' | 'api_key';
  /**
   * An API key's id, environment and expiry (ms, null: none) (src/services/auth/api-key-credentials.ts); absent for
   * a session.
   */
  apiKey?: { id: string; environment: ApiKeyEnvironment; expiresAt: number | null };
  /**
   * Present when a platform administrator acts as this member (support impersonation, src/services/impersonations/):
   * the token's RFC 8693 `act` claim names the administrator, `imp` the impersonation (whose id is also `sessionId`,
   * so ending it is the ordinary session revocation) and its mode.
   */
  impersonation?: Impersonation;
}

/** `read_only`: every write is refused (the only mode offered, see docs/API.md "Impersonation"). */
export type ImpersonationMode = 'read_only';
export const IMPERSONATION_MODES = ['read_only'] as const satisfies readonly ImpersonationMode[];

export interface Impersonation {
  id: string;
  /** The platform administrator acting. */
  actorUserId: string;
  mode: ImpersonationMode;
  /** The token's `exp` (seconds): the impersonation's end. */
  expiresAt: number;
}

/** `live` keys act on the organization's real business; `test` keys are refused by live-only operations. */
export type ApiKeyEnvironment = 'live' | 'test';

export interface AccessTokenInput {
  userId: string;
  tenant: string;
  sessionId: string;
  role: string;
  permissions: readonly Permission[];
  emailVerified: boolean;
  /** `auth_time` in seconds; the issue time when absent (a token of a sign-in that just happened). */
  authTime?: number;
  /** `amr`; `['pwd']` when absent. */
  amr?: readonly string[];
  /**
   * An impersonation token: `act` and `imp` claims, `sessionId` is the impersonation's id, and the token expires at
   * `expiresAt` (seconds; at most MAX_IMPERSONATION_SECONDS after issue) instead of after ACCESS_TOKEN_TTL_SECONDS.
   */
  impersonation?: Impersonation;
}

export async function issueAccessToken(
  keysSecret: string,
  rootDomain: string,
  input: AccessTokenInput,
  now = Date.now(),
): Promise<{ token: string; tokenId: string; expiresIn: number }> {
  const keys = await signingKeys(keysSecret);
  const tokenId = crypto.randomUUID();
  const issuedAt = Math.floor(now / 1000);
  const impersonation = input.impersonation;
  const expiresAt = impersonation?.expiresAt ?? issuedAt + ACCESS_TOKEN_TTL_SECONDS;
  const token = await new SignJWT({
    org: input.tenant,
    sid: input.sessionId,
    role: input.role,
    perms: [...input.permissions],
    ev: input.emailVerified,
    ist: now,
    auth_time: input.authTime ?? issuedAt,
    amr: [...(input.amr ?? ['pwd'])],
    ...(impersonation === undefined
      ? {}
      : { act: { sub: impersonation.actorUserId }, imp: { id: impersonation.id, mode: impersonation.mode } }),
  })
    .setProtectedHeader({ alg: JWT_ALGORITHM, kid: keys.signer.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(issuer(rootDomain))
    .setAudience(AUDIENCE)
    .setSubject(input.userId)
    .setJti(tokenId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(keys.signer.key);
  return { token, tokenId, expiresIn: expiresAt - issuedAt };
}

function invalidToken(detail: string): ApiError {
  return new ApiError('unauthorized', {
    detail,
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${detail}"` },
  });
}

/**
 * Verifies signature (ES256 only, a `kid` header naming a key of our JWKS), `typ`, issuer, audience, expiry and issue
 * time with 30 s skew (RFC 8725: no `iat` in the future, none older than the token lifetime: ACCESS_TOKEN_TTL_SECONDS,
 * or MAX_IMPERSONATION_SECONDS for an impersonation token), the claims' shapes (an impersonation's `act` and `imp`
 * with `sid` equal to the impersonation's id), an
 * `ist` that is the `iat` in milliseconds (a future `ist` would outlive "sessions ended before" records), and that
 * the token's tenant is the tenant of this host: a token of tenant A on tenant B's host is a 401, like any invalid
 * token.
 */
export async function verifyAccessToken(
  keysSecret: string,
  rootDomain: string,
  token: string,
  expectedTenant: string,
): Promise<Principal> {
  const keys = await signingKeys(keysSecret);
  let payload: Record<string, unknown>;
  let kid: unknown;
  try {
    ({
      payload,
      protectedHeader: { kid },
    } = await jwtVerify(token, keys.verifier, {
      algorithms: [JWT_ALGORITHM],
      issuer: issuer(rootDomain),
      audience: AUDIENCE,
      typ: ACCESS_TOKEN_TYPE,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      // With a maximum age jose also refuses an `iat` in the future (beyond the tolerance). The lifetime of each kind
      // of token is checked below (`exp - iat`), which bounds its age with `exp`.
      maxTokenAge: MAX_IMPERSONATION_SECONDS,
      requiredClaims: ['sub', 'jti', 'iat', 'exp'],
    }));
  } catch (error) {
    // The keys loaded above, so whatever fails here is the token: its shape, signature, kid, algorithm or claims.
    throw invalidToken(
      error instanceof joseErrors.JWTExpired ? 'The access token has expired.' : 'The access token is invalid.',
    );
  }
  const { sub, jti, iat, exp, org, sid, role, perms, ev, ist, auth_time: authTime, amr, act, imp } = payload;
  const impersonation = impersonationOf(act, imp, sid, exp);
  if (
    // jose picks the only key of a matching type when `kid` is absent: we insist on it (RFC 8725 3.10).
    typeof kid !== 'string' ||
    typeof sub !== 'string' ||
    typeof jti !== 'string' ||
    typeof exp !== 'number' ||
    typeof iat !== 'number' ||
    exp - iat > (impersonation === undefined ? ACCESS_TOKEN_TTL_SECONDS : MAX_IMPERSONATION_SECONDS) ||
    impersonation === null ||
    typeof org !== 'string' ||
    typeof sid !== 'string' ||
    typeof role !== 'string' ||
    typeof ev !== 'boolean' ||
    typeof ist !== 'number' ||
    Math.floor(ist / 1000) !== iat ||
    // A sign-in cannot come after the token it produced.
    typeof authTime !== 'number' ||
    !Number.isSafeInteger(authTime) ||
    authTime > Math.floor(ist / 1000) ||
    !Array.isArray(amr) ||
    !amr.every((method) => typeof method === 'string') ||
    !Array.isArray(perms) ||
    !perms.every((permission): permission is Permission => typeof permission === 'string' && isPermission(permission))
  ) {
    throw invalidToken('The access token is invalid.');
  }
  if (org !== expectedTenant) throw invalidToken('The access token is not valid on this host.');
  return {
    userId: sub,
    tenant: org,
    sessionId: sid,
    role,
    permissions: new Set(perms),
    emailVerified: ev,
    issuedAtMs: ist,
    authTime,
    amr,
    credential: 'session',
    ...(impersonation === undefined ? {} : { impersonation }),
  };
}

/**
 * The impersonation named by a token's `act` and `imp` claims: undefined when the token has neither (an ordinary
 * session), null when they are malformed, incomplete or disagree with `sid` (the token is refused).
 */
function impersonationOf(act: unknown, imp: unknown, sid: unknown, exp: unknown): Impersonation | null | undefined {
  if (act === undefined && imp === undefined) return undefined;
  if (typeof act !== 'object' || act === null || typeof imp !== 'object' || imp === null) return null;
  const actor = (act as Record<string, unknown>)['sub'];
  const { id, mode } = imp as Record<string, unknown>;
  if (typeof actor !== 'string' || typeof id !== 'string' || id !== sid || typeof exp !== 'number') return null;
  const known = IMPERSONATION_MODES.find((value) => value === mode);
  return known === undefined ? null : { id, actorUserId: actor, mode: known, expiresAt: exp };
}

const encoder = new TextEncoder();

/**
 * Opaque secrets (refresh tokens, email links, a buyer's booking token): 256 random bits, base64url, with a readable
 * prefix.
 */
export function generateOpaqueToken(prefix: 'rt' | 'ev' | 'pr' | 'inv' | 'bk' | 'ssoc'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `${prefix}_${base64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')}`;
}

/** Only hashes of opaque tokens are stored: a database leak does not leak usable tokens. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(token));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
