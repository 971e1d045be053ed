import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import type { Permission } from '../services/auth/permissions.ts';
import { admit } from './plan-limits.ts';
import { PLATFORM_TENANT, verifyAccessToken, type Principal } from '../services/auth/tokens.ts';

// In its own module so that the app's start-up does not load the token verification and the plan limits.
export { authenticate } from './authenticate.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

function unauthorized(detail: string): ApiError {
  return new ApiError('unauthorized', { detail, headers: { 'www-authenticate': 'Bearer' } });
}

/**
 * The verified caller, once per request: the signature and claims locally (jose, keys cached in the isolate), then
 * the revocation records with one Redis MGET. When Redis cannot answer, the request is refused with 503: an ended
 * session must never pass because the denylist was unreachable. On an organization host the same round trip takes a
 * unit from the plan's rate limits (429 when over; fail open when only the limiter fails) and counts the call
 * (src/middleware/plan-limits.ts).
 */
async function authenticated(c: Context<AppEnv>): Promise<Principal> {
  const known = c.var.principal;
  if (known) return known;
  const header = c.req.header('authorization');
  if (header === undefined) throw unauthorized('Authentication required.');
  const match = BEARER.exec(header);
  if (!match?.[1]) throw unauthorized('Send the access token as `Authorization: Bearer <token>`.');
  const expectedTenant = c.var.tenant?.id ?? PLATFORM_TENANT;
  const { JWT_SIGNING_KEYS, ROOT_DOMAIN } = c.var.bindings;
  const principal = await verifyAccessToken(JWT_SIGNING_KEYS, ROOT_DOMAIN, match[1], expectedTenant);
  // One Redis round trip: the revocation records, and on an organization host the plan's rate limits and usage.
  const admission = admit(c, principal);
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
  c.set('principal', principal);
  return principal;
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

/** Refuses anonymous requests with 401 (on both kinds of host: the route decides what its host serves). */
export function requireAuth() {
  return createMiddleware<AppEnv>(async function requireAuthMiddleware(c, next) {
    await authenticated(c);
    await next();
  });
}

/** Organization routes: 404 on the platform host, then callers without every listed permission 403 (anonymous 401). */
export function requirePermission(...permissions: Permission[]) {
  return createMiddleware<AppEnv>(async function requirePermissionMiddleware(c, next) {
    if (!c.var.tenant) throw wrongHost();
    const principal = await authenticated(c);
    const missing = permissions.filter((permission) => !principal.permissions.has(permission));
    if (missing.length > 0) {
      throw new ApiError('forbidden', { detail: `This needs the ${missing.join(', ')} permission.` });
    }
    await next();
  });
}

/** Organization routes: 404 on the platform host, then callers whose address is not verified yet a 403 that says so. */
export function requireVerifiedEmail() {
  return createMiddleware<AppEnv>(async function requireVerifiedEmailMiddleware(c, next) {
    if (!c.var.tenant) throw wrongHost();
    if (!(await authenticated(c)).emailVerified) {
      throw new ApiError('email_not_verified', {
        detail: 'Verify your email address first (POST /api/v1/auth/resend-verification sends a new link).',
      });
    }
    await next();
  });
}

/** Platform routes: 404 on an organization host, then only platform administrators. */
export function requirePlatformAdmin() {
  return createMiddleware<AppEnv>(async function requirePlatformAdminMiddleware(c, next) {
    if (c.var.tenant) throw wrongHost();
    const principal = await authenticated(c);
    if (principal.tenant !== PLATFORM_TENANT || principal.role !== 'platform_admin') {
      throw new ApiError('forbidden', { detail: 'Platform administrators only.' });
    }
    await next();
  });
}
