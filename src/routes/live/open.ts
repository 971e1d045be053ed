import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { clientInfo } from '../../lib/client.ts';
import { principalOf } from '../../middleware/auth.ts';
import { isRevoked } from '../../services/auth/revocation.ts';
import type { Principal } from '../../services/auth/tokens.ts';
import type { LiveChannel, LiveMessage } from '../../services/realtime/messages.ts';
import { DEFAULT_HEARTBEAT_SECONDS, openLiveStream } from '../../services/realtime/stream.ts';

/** An impersonation's stream ends with it: its token's expiry is checked at every heartbeat, beside the revocation. */
function impersonationOver(principal: Principal): boolean {
  const impersonation = principal.impersonation;
  return impersonation !== undefined && Date.now() >= impersonation.expiresAt * 1000;
}

/**
 * The stream of a live route, after its checks (host, caller, event): subscribes to the event's Durable Object and
 * answers `text/event-stream`. A staff stream re-checks its session at every heartbeat (one Redis MGET, the same
 * records the guard reads) and is counted per session; a public stream per client address.
 */
export function streamFor(
  c: Context<AppEnv>,
  target: { organizationId: string; eventId: string; channel: LiveChannel; first: LiveMessage | null },
  access: 'public' | 'staff',
): Promise<Response> {
  const { bindings, services, logger } = c.var;
  const principal = access === 'staff' ? principalOf(c) : null;
  const addressKey = clientInfo(c).addressKey ?? 'no-ip';
  return openLiveStream({
    ...target,
    namespace: bindings.EVENT_LIVE,
    client: principal === null ? `ip:${addressKey}` : `session:${principal.sessionId}`,
    lastEventId: c.req.header('last-event-id'),
    heartbeatSeconds: bindings.LIVE_HEARTBEAT_SECONDS ?? DEFAULT_HEARTBEAT_SECONDS,
    stillAllowed:
      principal === null
        ? undefined
        : async () => !impersonationOver(principal) && !(await isRevoked(services.redis, principal)),
    logger,
  });
}
