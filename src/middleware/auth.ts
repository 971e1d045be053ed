import type { Context, Next } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import type { Permission } from '../services/auth/permissions.ts';
import { admit } from './plan-limits.ts';
import { PLATFORM_TENANT, verifyAccessToken, type Principal } from '../services/auth/tokens.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

function unauthorized(detail: string): ApiError {
  return new ApiError('unauthorized', { detail, headers: { 'www-authenticate': 'Bearer' } });
}

/** Methods whose routes only read: their database round trip may go out beside the admission's Redis round trip. */
const READS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** The bearer token's signature and claims, checked locally (jose, keys cached in the isolate): no I/O. */
async function verifiedToken(c: Context<AppEnv>): Promise<Principal> {
  const header = c.req.header('authorization');
  if (header === undefined) throw unauthorized('Authentication required.');
  const match = BEARER.exec(header);
  if (!match?.[1]) throw unauthorized('Send the access token as `Authorization: Bearer <token>`.');
  const expectedTenant = c.var.tenant?.id ?? PLATFORM_TENANT;
  const { JWT_SIGNING_KEYS, ROOT_DOMAIN } = c.var.bindings;
  return verifyAccessToken(JWT_SIGNING_KEYS, ROOT_DOMAIN, match[1], expectedTenant);
}

/**
 * The session's admission, in one Redis round trip: the revocation records (one MGET), and on an organization host
 * the plan's rate limits and usage (src/middleware/plan-limits.ts). When Redis cannot answer, it rejects with 503: an
 * ended session must never pass because the denylist was unreachable. A revoked session rejects with 401, a caller
 * over a limit with 429 (fail open when only the limiter fails).
 */
async function admitted(c: Context<AppEnv>, principal: Principal, units = 1): Promise<void> {
  const admission = admit(c, principal, units);
  let revoked: boolean;
  try {
    revoked = await admission.revoked;
  } catch (error) {
    c.var.logger.error('revocation check failed', { error });
    throw new ApiError('service_unavailable', {
      detail: 'Sessions cannot be checked right now.',
      headers: { 'retry-after': '5' },
    });
  }
  if (revoked) {
    // The limits were counted in the same round trip: settle them so this 401 carries their RateLimit headers (a
    // revoked session answers 401 even when it is over a limit).
    await Promise.allSettled([admission.limits]);
    throw unauthorized('The session has ended.');
  }
  await admission.limits;
}

/**
 * Every guard's path: the verified caller, once per request, then the guard's own `check` (host, permissions), then
 * the route. A write runs only after the session is admitted. A read (GET, HEAD) runs beside the admission, so its
 * database round trip and the admission's Redis round trip go out together and the request waits for the slower of
 * the two instead of both in turn (the same shape as the public reads' `publicRead`); nothing the route produced is
 * sent unless the session is admitted: a revoked session still gets 401, an unverifiable one 503 and one over a limit
 * 429, and the read's result is dropped. The admission's answer also comes before the guard's 403.
 */
async function guard(c: Context<AppEnv>, next: Next, check: (principal: Principal) => void): Promise<void> {
  const known = c.var.principal;
  if (known) {
    check(known);
    await next();
    return;
  }
  const principal = await verifiedToken(c);
  const admission = admitted(c, principal);
  if (!READS.has(c.req.method)) {
    await admission;
    c.set('principal', principal);
    check(principal);
    await next();
    return;
  }
  try {
    check(principal);
  } catch (refusal) {
    await admission;
    throw refusal;
  }
  c.set('principal', principal);
  const route = next();
  try {
    await admission;
  } finally {
    // The route settles first either way: its response must not land after the refusal has replaced it.
    await route;
  }
}

/** The principal of a route that requires authentication (after `requireAuth()` or `requirePermission()`). */
export function principalOf(c: { var: { principal: Principal | null } }): Principal {
  const principal = c.var.principal;
  if (!principal) throw unauthorized('Authentication required.');
  return principal;
}

/**
 * Organization routes exist only on organization hosts, platform routes only on the platform host: on the other kind
 * of host the guard answers 404 like an unknown path, before it looks at any token (docs/API.md).
 */
function wrongHost(): ApiError {
  return new ApiError('not_found', { detail: 'No such resource.' });
}

/**
 * The caller of a GraphQL operation (src/routes/graphql/): on an organization host only (404 elsewhere), the bearer
 * token verified (401), then the session admitted in one Redis round trip with the plan's limits charged `units`,
 * the operation's cost, instead of one (401 revoked, 429, 503). `cost` runs between the two, on the verified
 * caller before any Redis work: the operation is parsed, validated and costed there, so a malformed or too costly
 * one is refused without touching Redis. Permissions are the resolvers' business, field by field.
 */
export async function admitOperation(
  c: Context<AppEnv>,
  cost: (principal: Principal) => Promise<number>,
): Promise<Principal> {
  if (!c.var.tenant) throw wrongHost();
  const principal = await verifiedToken(c);
  await admitted(c, principal, await cost(principal));
  c.set('principal', principal);
  return principal;
}

/** Refuses anonymous requests with 401 (on both kinds of host: the route decides what its host serves). */
export function requireAuth() {
  return createMiddleware<AppEnv>(async function requireAuthMiddleware(c, next) {
    await guard(c, next, () => undefined);
  });
}

/** Organization routes: 404 on the platform host, then callers without every listed permission 403 (anonymous 401). */
export function requirePermission(...permissions: Permission[]) {
  return createMiddleware<AppEnv>(async function requirePermissionMiddleware(c, next) {
    if (!c.var.tenant) throw wrongHost();
    await guard(c, next, (principal) => {
      const missing = permissions.filter((permission) => !principal.permissions.has(permission));
      if (missing.length > 0) {
        throw new ApiError('forbidden', { detail: `This needs the ${missing.join(', ')} permission.` });
      }
    });
  });
}

/** Organization routes: 404 on the platform host, then callers whose address is not verified yet a 403 that says so. */
export function requireVerifiedEmail() {
  return createMiddleware<AppEnv>(async function requireVerifiedEmailMiddleware(c, next) {
    if (!c.var.tenant) throw wrongHost();
    await guard(c, next, (principal) => {
      if (!principal.emailVerified) {
        throw new ApiError('email_not_verified', {
          detail: 'Verify your email address first (POST /api/v1/auth/resend-verification sends a new link).',
        });
      }
    });
  });
}

/** Platform routes: 404 on an organization host, then only platform administrators. */
export function requirePlatformAdmin() {
  return createMiddleware<AppEnv>(async function requirePlatformAdminMiddleware(c, next) {
    if (c.var.tenant) throw wrongHost();
    await guard(c, next, (principal) => {
      if (principal.tenant !== PLATFORM_TENANT || principal.role !== 'platform_admin') {
        throw new ApiError('forbidden', { detail: 'Platform administrators only.' });
      }
    });
  });
}

/** How recent a sign-in (or re-authentication) must be for a sensitive operation (`requireRecentAuth()`). */
export const STEP_UP_MAX_AGE_SECONDS = 10 * 60;

/**
 * Step-up for sensitive operations (payment settings, webhook endpoints and secrets, roles and ownership, API keys,
 * MFA changes): the session's user must have proved who they are within STEP_UP_MAX_AGE_SECONDS (the token's
 * `auth_time`), else 401 `reauthentication_required` with the RFC 9470 challenge
 * (`error="insufficient_user_authentication"`, `max_age`), which tells the client to re-authenticate
 * (POST /api/v1/auth/reauthenticate) and retry with the new access token. An API key is not a sign-in and is
 * checked by its own scopes instead. Place it after the route's guard (`requirePermission(...)`, `requireAuth()`).
 */
export function requireRecentAuth(maxAgeSeconds = STEP_UP_MAX_AGE_SECONDS) {
  return createMiddleware<AppEnv>(async function requireRecentAuthMiddleware(c, next) {
    const principal = principalOf(c);
    if (principal.credential === 'session' && Math.floor(Date.now() / 1000) - principal.authTime > maxAgeSeconds) {
      throw new ApiError('reauthentication_required', {
        detail:
          `This operation needs a sign-in within the last ${maxAgeSeconds / 60} minutes: re-authenticate ` +
          '(POST /api/v1/auth/reauthenticate) and retry with the new access token.',
        headers: {
          'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age=${maxAgeSeconds}`,
        },
      });
    }
    await next();
  });
}
