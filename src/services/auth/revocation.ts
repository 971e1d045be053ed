import type { Redis } from '@upstash/redis/cloudflare';
import { ACCESS_TOKEN_TTL_SECONDS, type Principal } from './tokens.ts';

/**
 * Access tokens are self-contained, so ending a session early needs a shared record: Upstash keys that expire
 * with the tokens they revoke.
 *   revoked:jti:<jti>                 one access token (logout)
 *   revoked:before:<tenant>:<user>    every token of the user in the tenant issued before this time (ms):
 *                                     logout ?all=true, membership removed or disabled, role changed, password reset
 * One MGET checks both on every authenticated request: one Redis round trip.
 */
const jtiKey = (tokenId: string): string => `revoked:jti:${tokenId}`;
const beforeKey = (tenant: string, userId: string): string => `revoked:before:${tenant}:${userId}`;
// Tokens verify with 30 s of clock skew, so revocation records outlive the token lifetime by a margin.
const MARGIN_SECONDS = 60;

/** `redis` may be a RedisBatch (src/lib/redis-batch.ts): the MGET then shares a round trip with the rate limits. */
export async function isRevoked(redis: Pick<Redis, 'mget'>, principal: Principal): Promise<boolean> {
  const [byId, before] = await redis.mget<[number | null, number | null]>(
    jtiKey(principal.tokenId),
    beforeKey(principal.tenant, principal.userId),
  );
  return byId !== null || (before !== null && principal.issuedAtMs <= before);
}

export async function revokeAccessToken(redis: Redis, principal: Principal, now = Date.now()): Promise<void> {
  const ttl = Math.max(1, principal.expiresAt - Math.floor(now / 1000) + MARGIN_SECONDS);
  await redis.set(jtiKey(principal.tokenId), 1, { ex: ttl });
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
      pipeline.set(beforeKey(tenant, userId), now, { ex: ACCESS_TOKEN_TTL_SECONDS + MARGIN_SECONDS });
    }
  }
  await pipeline.exec();
}
