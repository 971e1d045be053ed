import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { requireAuth, requireRecentAuth } from '../../middleware/auth.ts';
import { tenantOnly } from '../organizations/host.ts';

/** The signed-in user's own passkeys: organization hosts only, any member. */
export function ownPasskeys(): MiddlewareHandler<AppEnv>[] {
  return [tenantOnly(), requireAuth()];
}

/** Adding or removing a passkey changes how the account signs in: it also needs a recent sign-in (step-up). */
export function passkeyChange(): MiddlewareHandler<AppEnv>[] {
  return [tenantOnly(), requireAuth(), requireRecentAuth()];
}

export const STEP_UP_NOTE =
  'Needs a sign-in (or re-authentication) within the last 10 minutes: an older session gets 401 ' +
  '`reauthentication_required` (re-authenticate with POST /api/v1/auth/reauthenticate, then retry).';
