import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';

/**
 * Prepares authentication: `c.var.principal` starts as null. The bearer token is verified only by the routes that
 * require it (`requireAuth()`, `requirePermission()`, ...), so the revocation check costs a Redis round trip only
 * where it matters, and a public endpoint (login, refresh, the public pages) ignores a stale token that a client
 * sends along with every request.
 *
 * @example
 * app.use(authenticate());
 * app.openapi(createRoute({ ..., middleware: [requirePermission('users:read')] as const }), handler);
 */
export function authenticate() {
  return createMiddleware<AppEnv>(async function authenticateMiddleware(c, next) {
    c.set('principal', null);
    await next();
  });
}
