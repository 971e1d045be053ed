import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import { SHARED_DATABASE } from '../db/client.ts';
import { servicesFor } from '../lib/services.ts';
import { checkedServices } from '../services/tenants/check.ts';
import { confirmResolution, forgetHosts, resolveHost } from '../services/tenants/resolve.ts';

/** What an organization being moved still answers (docs/OPERATIONS.md, "Sharding: moving an organization"). */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** A move's switch takes about a minute (the copy, then the tenant cache's 30 s on each side of the switch). */
const READ_ONLY_RETRY_AFTER_SECONDS = 60;

/** Paths served on any host without tenant resolution: liveness must cost no I/O. */
const HOST_INDEPENDENT_PATHS = new Set(['/health']);

/**
 * Resolves the organization from the request URL's host name and sets `c.var.tenant` (null on the platform host),
 * and `c.var.services` to the clients of the database that serves it (tenant directory). Unknown, invalid and
 * suspended hosts answer 404 before any route runs; the hosts of an organization whose deletion is scheduled answer
 * 404 `organization_deletion_scheduled`. A write to an organization being moved is refused by `readOnlyWrites`, after
 * CORS (so a browser can read that problem).
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
    if (resolution.kind === 'platform') {
      c.set('tenant', null);
      return next();
    }
    const { tenant, check } = resolution;
    c.set('tenant', tenant);
    // The organization's rows live on the database its directory entry names: every query of this request goes
    // there (the tenant lookup above was the control database's).
    if (tenant.database !== undefined && tenant.database !== SHARED_DATABASE) {
      c.set('services', servicesFor(c.var.bindings, tenant.database));
    }
    // A resolution past its freshness, served without a lookup: the request's first batch checks it.
    if (check !== undefined) {
      const rootDomain = c.var.bindings.ROOT_DOMAIN;
      c.set(
        'services',
        checkedServices(c.var.services, check, {
          confirmed: (changes) => {
            confirmResolution(check, changes, rootDomain, (promise) => {
              c.executionCtx.waitUntil(promise);
            });
          },
          changed: () => forgetHosts(rootDomain, [check.host]),
        }),
      );
    }
    return next();
  });
}

/**
 * Refuses a write (any method but GET, HEAD and OPTIONS) to an organization being moved to another database (its
 * cached tenant says read-only): 503 `organization_read_only` with Retry-After. Runs after CORS, so the refusal
 * carries the tenant's CORS headers and a browser client can read it and its Retry-After. No I/O.
 *
 * @example
 * app.use(tenant(), cors(...), readOnlyWrites());
 */
export function readOnlyWrites() {
  return createMiddleware<AppEnv>(async function readOnlyWritesMiddleware(c, next) {
    if (c.var.tenant?.readOnly === true && !READ_METHODS.has(c.req.method)) {
      throw new ApiError('organization_read_only', {
        detail: 'This organization is being moved to another database; reads work, writes resume in a few minutes.',
        headers: { 'Retry-After': String(READ_ONLY_RETRY_AFTER_SECONDS) },
      });
    }
    return next();
  });
}
