import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import type { Permission } from '../services/auth/permissions.ts';
import { isRevoked } from '../services/auth/revocation.ts';
import { PLATFORM_TENANT, verifyAccessToken, type Principal } from '../services/auth/tokens.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

function unauthorized(detail: string): ApiError {
  return new ApiError('unauthorized', { detail, headers: { 'www-authenticate': 'Bearer' } });
}

/**
 * Verifies the bearer token when there is one and sets `c.var.principal` (null without a token). Verification is
 * local (jose, keys cached in the isolate); the revocation check is one Redis MGET. When Redis cannot answer, the
 * request is refused with 503: an ended session must never pass because the denylist was unreachable.
 *
 * @example
 * app.use('/api/v1/*', authenticate());
 * app.get('/api/v1/auth/me', requireAuth(), (c) => c.json(c.var.principal));
 */
export function authenticate() {
  return createMiddleware<AppEnv>(async function authenticateMiddleware(c, next) {
    const header = c.req.header('authorization');
    if (header === undefined) {
      c.set('principal', null);
      return next();
    }
    const match = BEARER.exec(header);
    if (!match?.[1]) throw unauthorized('Send the access token as `Authorization: Bearer <token>`.');
    const expectedTenant = c.var.tenant?.id ?? PLATFORM_TENANT;
    const { JWT_SIGNING_KEYS, ROOT_DOMAIN } = c.var.bindings;
    const principal = await verifyAccessToken(JWT_SIGNING_KEYS, ROOT_DOMAIN, match[1], expectedTenant);
    let revoked: boolean;
    try {
      revoked = await isRevoked(c.var.services.redis, principal);
    } catch (error) {
      c.var.logger.error('revocation check failed', { error });
      throw new ApiError('service_unavailable', {
        detail: 'Sessions cannot be checked right now.',
        headers: { 'retry-after': '5' },
      });
    }
    if (revoked) throw unauthorized('The session has ended.');
    c.set('principal', principal);
    return next();
  });
}

/** The principal of a route that requires authentication (after `requireAuth()` or `requirePermission()`). */
export function principalOf(c: { var: { principal: Principal | null } }): Principal {
  const principal = c.var.principal;
  if (!principal) throw unauthorized('Authentication required.');
  return principal;
}

/** Refuses anonymous requests with 401. */
export function requireAuth() {
  return createMiddleware<AppEnv>(async function requireAuthMiddleware(c, next) {
    principalOf(c);
    await next();
  });
}

/** Refuses callers without every listed permission with 403 (anonymous callers with 401). */
export function requirePermission(...permissions: Permission[]) {
  return createMiddleware<AppEnv>(async function requirePermissionMiddleware(c, next) {
    const principal = principalOf(c);
    const missing = permissions.filter((permission) => !principal.permissions.has(permission));
    if (missing.length > 0) {
      throw new ApiError('forbidden', { detail: `This needs the ${missing.join(', ')} permission.` });
    }
    await next();
  });
}

/** Refuses callers whose email address is not verified yet with a 403 that says so. */
export function requireVerifiedEmail() {
  return createMiddleware<AppEnv>(async function requireVerifiedEmailMiddleware(c, next) {
    if (!principalOf(c).emailVerified) {
      throw new ApiError('email_not_verified', {
        detail: 'Verify your email address first (POST /api/v1/auth/resend-verification sends a new link).',
      });
    }
    await next();
  });
}

/** Platform routes: only platform administrators, only on the platform host. */
export function requirePlatformAdmin() {
  return createMiddleware<AppEnv>(async function requirePlatformAdminMiddleware(c, next) {
    const principal = principalOf(c);
    if (principal.tenant !== PLATFORM_TENANT || principal.role !== 'platform_admin') {
      throw new ApiError('forbidden', { detail: 'Platform administrators only.' });
    }
    await next();
  });
}
