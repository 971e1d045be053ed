import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import { resolveHost } from '../services/tenants/resolve.ts';

/** Paths served on any host without tenant resolution: liveness must cost no I/O. */
const HOST_INDEPENDENT_PATHS = new Set(['/health']);

/**
 * Resolves the organization from the request URL's host name and sets `c.var.tenant` (null on the platform host).
 * Unknown, invalid and suspended hosts answer 404 before any route runs; the hosts of an organization whose deletion
 * is scheduled answer 404 `organization_deletion_scheduled`.
 *
 * @example
 * app.use(tenant());
 * app.get('/api/v1/organization', (c) => c.json(c.var.tenant));
 */
export function tenant() {
  return createMiddleware<AppEnv>(async function tenantMiddleware(c, next) {
    const url = new URL(c.req.url);
    if (HOST_INDEPENDENT_PATHS.has(url.pathname)) {
      c.set('tenant', null);
      return next();
    }
    const resolution = await resolveHost({
      db: () => c.var.services.db,
      hostname: url.hostname,
      rootDomain: c.var.bindings.ROOT_DOMAIN,
      waitUntil: (promise) => {
        c.executionCtx.waitUntil(promise);
      },
    });
    if (resolution.kind === 'unknown') {
      throw new ApiError('not_found', { detail: 'No organization is served at this host.' });
    }
    if (resolution.kind === 'deletion_scheduled') {
      throw new ApiError('organization_deletion_scheduled', {
        detail: 'This organization is scheduled for deletion and is no longer served.',
      });
    }
    c.set('tenant', resolution.kind === 'tenant' ? resolution.tenant : null);
    return next();
  });
}
