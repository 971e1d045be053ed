import type { Redis } from '@upstash/redis/cloudflare';
import { MAX_IMPERSONATION_SECONDS, type Principal } from './tokens.ts';

/**
 * Access tokens are self-contained, so ending a session early needs a shared record: Upstash keys that expire
 * with the tokens they revoke.
 *   revoked:sid:<sessionId>           every access token of one session (logout, refresh-token reuse): a session
 *                                     that ended issues no more tokens, so the record holds no time
 *   revoked:before:<tenant>:<user>    every token of the user in the tenant issued before this time (ms):
 *                                     logout ?all=true, membership removed or disabled, role changed, password reset
 * One MGET checks both on every authenticated request: one Redis round trip.
 */
const sessionKey = (sessionId: string): string => `revoked:sid:${sessionId}`;
const beforeKey = (tenant: string, userId: string): string => `revoked:before:${tenant}:${userId}`;
// Tokens verify with 30 s of clock skew, so revocation records outlive the longest token lifetime by a margin. The
// longest is an impersonation token's (MAX_IMPERSONATION_SECONDS, beyond an ordinary token's 15 minutes): a record
// that expired earlier would let such a token of a changed or removed member work again with what it carried.
const RECORD_SECONDS = MAX_IMPERSONATION_SECONDS + 60;

/** `redis` may be a RedisBatch (src/lib/redis-batch.ts): the MGET then shares a round trip with the rate limits. */
export async function isRevoked(redis: Pick<Redis, 'mget'>, principal: Principal): Promise<boolean> {
  const [session, before] = await redis.mget<[number | null, number | null]>(
    sessionKey(principal.sessionId),
    beforeKey(principal.tenant, principal.userId),
  );
  return session !== null || (before !== null && principal.issuedAtMs <= before);
}

/**
 * Ends every access token of the session (refresh family) at once: the record lives as long as the newest of them
 * can. One round trip.
 */
export async function revokeSession(redis: Redis, sessionId: string): Promise<void> {
  await redis.set(sessionKey(sessionId), Date.now(), { ex: RECORD_SECONDS });
}

/** Ends every access token the users hold in the tenant (or tenants), effective immediately; one round trip. */
export async function revokeUserTokens(
  redis: Redis,
  tenants: string | readonly string[],
  userIds: readonly string[],
  now = Date.now(),
) {
  const tenantList = typeof tenants === 'string' ? [tenants] : tenants;
  if (userIds.length === 0 || tenantList.length === 0) return;
  const pipeline = redis.pipeline();
  for (const tenant of tenantList) {
    for (const userId of userIds) {
      pipeline.set(beforeKey(tenant, userId), now, { ex: RECORD_SECONDS });
    }
  }
  await pipeline.exec();
}
