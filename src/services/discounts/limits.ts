import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { requestToken, takeTokens, type LimitOutcome, type LimitRule } from '../../lib/rate-limit.ts';
import { RedisBatch } from '../../lib/redis-batch.ts';
import { publicReadBucket } from '../catalogue/limits.ts';
import { queueUsage } from '../plans/usage.ts';

/**
 * Discount-code guessing: failed codes (checkout or quote answered 422 `discount_code_invalid`) per client address
 * per organization. Once an address has `limit` failures in the window, every request that carries a code answers
 * 429 until the window ends; requests without a code are not affected. Fails open like the public checkout limit.
 */
export const DISCOUNT_FAILURE_LIMIT = {
  name: 'discount-code-fail-ip',
  limit: 10,
  window: '15 m',
} as const satisfies LimitRule;

// The check before a request with a code takes no unit (the failures are counted afterwards); the fixed window
// admits while used <= limit, so the check's limit is one lower: it refuses once `limit` failures are counted.
const DISCOUNT_FAILURE_CHECK: LimitRule = { ...DISCOUNT_FAILURE_LIMIT, limit: DISCOUNT_FAILURE_LIMIT.limit - 1 };

/**
 * Takes one unit of `rule` (the public checkout or read limit) for the caller's address, with the `api_calls`
 * usage, and, when the request carries a discount code, checks the address's failed-code bucket: one Redis round trip.
 */
export async function takePublicWithCode(
  ctx: ServiceContext,
  rule: LimitRule,
  hasCode: boolean,
): Promise<LimitOutcome | null> {
  const tenant = requireTenant(ctx);
  const bucket = publicReadBucket(tenant.id, ctx.client.addressKey);
  const checks: (readonly [LimitRule, string, number?])[] = [[rule, bucket]];
  if (hasCode) checks.push([DISCOUNT_FAILURE_CHECK, bucket, 0]);
  const [outcome] = await takeTokens(ctx.services.redis, ctx.logger, checks, {
    failClosed: false,
    alongside: (batch) => queueUsage(batch, ctx.logger, tenant.id, 'api_calls'),
    record: ctx.recordRateLimits,
  });
  return outcome ?? null;
}

/** Counts one failed code for the caller's address (a second Redis round trip, on this failure path only). */
export async function recordDiscountFailure(ctx: ServiceContext): Promise<void> {
  const tenant = requireTenant(ctx);
  const batch = new RedisBatch(ctx.services.redis);
  const answer = requestToken(batch, DISCOUNT_FAILURE_LIMIT, publicReadBucket(tenant.id, ctx.client.addressKey));
  batch.send();
  try {
    await answer;
  } catch (error) {
    ctx.logger.repeating('error', 'rate limiter unavailable', { rule: DISCOUNT_FAILURE_LIMIT.name, error });
  }
}
