import { STEP_UP_MAX_AGE_SECONDS } from '../middleware/auth.ts';

/**
 * What every step-up route (`requireRecentAuth()`) says in its OpenAPI description: the sign-in must be recent, what
 * the refusal looks like and what the client does about it. One sentence shared by every such route.
 */
export const STEP_UP_NOTE =
  `\n\n**Step-up:** a session must have signed in (or re-authenticated) within the last ` +
  `${STEP_UP_MAX_AGE_SECONDS / 60} minutes; an older one gets 401 \`reauthentication_required\` with ` +
  `\`WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=${STEP_UP_MAX_AGE_SECONDS}\` ` +
  '(RFC 9470) and nothing changes: re-authenticate (POST /api/v1/auth/reauthenticate) and retry with the new ' +
  'access token. API keys are not asked (their scopes govern them).';
