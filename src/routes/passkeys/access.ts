import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { tenantOnly } from '../organizations/host.ts';

/** The signed-in user's own passkeys: organization hosts only, any member; a person's, so API keys get 403. */
export function ownPasskeys(): MiddlewareHandler<AppEnv>[] {
  return [tenantOnly(), requireAuth(), requireSession()];
}

/** Adding or removing a passkey changes how the account signs in: it also needs a recent sign-in (step-up). */
export function passkeyChange(): MiddlewareHandler<AppEnv>[] {
  return [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()];
}
