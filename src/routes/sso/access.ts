import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';

/** The guards of every connection route: `sso:manage`, then the plan's `sso` feature (403 `feature_unavailable`). */
export function ssoAccess(): MiddlewareHandler<AppEnv>[] {
  return [requirePermission('sso:manage'), requireFeature('sso')];
}

/** The guards of the routes that change connections: those above, then step-up. */
export function ssoWriteAccess(): MiddlewareHandler<AppEnv>[] {
  return [...ssoAccess(), requireRecentAuth()];
}
