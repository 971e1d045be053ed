import type { MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';

/**
 * Platform routes exist only on the platform host: on an organization host they answer 404 like an unknown path,
 * before any authentication check could tell that the path exists.
 *
 * @example
 * createRoute({ ..., middleware: [platformOnly(), requirePlatformAdmin()] as const })
 */
export function platformOnly() {
  return createMiddleware<AppEnv>(async function platformOnlyMiddleware(c, next) {
    if (c.var.tenant) throw new ApiError('not_found', { detail: 'No such resource.' });
    await next();
  });
}

/**
 * Organization routes exist only on organization hosts: on the platform host they answer 404 like an unknown path.
 *
 * @example
 * createRoute({ ..., middleware: [tenantOnly(), requirePermission('organization:read')] as const })
 */
export function tenantOnly() {
  return createMiddleware<AppEnv>(async function tenantOnlyMiddleware(c, next) {
    if (!c.var.tenant) throw new ApiError('not_found', { detail: 'No such resource.' });
    await next();
  });
}

/**
 * One path served on both kinds of host with different guards (`PUT /api/v1/organizations/{id}`): runs the
 * platform guard on the platform host and the organization guard on an organization host.
 *
 * @example
 * byHost({ platform: requirePlatformAdmin(), tenant: requirePermission('organization:manage') })
 */
export function byHost(guards: { platform: MiddlewareHandler<AppEnv>; tenant: MiddlewareHandler<AppEnv> }) {
  return createMiddleware<AppEnv>(async function byHostMiddleware(c, next) {
    const guard = c.var.tenant ? guards.tenant : guards.platform;
    return guard(c, next);
  });
}
