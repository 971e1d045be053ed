import { Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '@upstash/redis/cloudflare';
import { ApiError } from '../errors/api-error.ts';
import type { Logger } from './logger.ts';

type Duration = `${number} ${'s' | 'm' | 'h'}`;

export interface LimitRule {
  /** Names the policy in the RateLimit headers and the Redis key prefix, e.g. `login-ip`. */
  name: string;
  limit: number;
  window: Duration;
}

export interface LimitOutcome {
  rule: LimitRule;
  remaining: number;
  resetSeconds: number;
}

// Blocked identifiers are remembered in the isolate until their window resets: a client hammering a closed bucket
// costs no Redis round trip (@upstash/ratelimit's ephemeral cache).
const ephemeralCache = new Map<string, number>();

function windowSeconds(window: Duration): number {
  const [amount, unit] = window.split(' ') as [string, 's' | 'm' | 'h'];
  return Number(amount) * { s: 1, m: 60, h: 3600 }[unit];
}

/** IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers): the policy and the current state. */
export function rateLimitHeaders(outcome: LimitOutcome): Record<string, string> {
  const { rule, remaining, resetSeconds } = outcome;
  return {
    'ratelimit-policy': `"${rule.name}";q=${rule.limit};w=${windowSeconds(rule.window)}`,
    ratelimit: `"${rule.name}";r=${Math.max(0, remaining)};t=${resetSeconds}`,
  };
}

/**
 * Takes one unit from `identifier`'s bucket (a fixed window in Upstash; one round trip). Over the limit: a 429
 * problem with Retry-After and the RateLimit headers. If Redis cannot answer, `failClosed` refuses with 503
 * (authentication flows: guessing must never become free), otherwise the request proceeds and the failure is logged.
 */
export async function takeToken(
  redis: Redis,
  logger: Logger,
  rule: LimitRule,
  identifier: string,
  options: { failClosed: boolean; now?: number },
): Promise<LimitOutcome | null> {
  const limiter = new Ratelimit({
    redis,
    limiter: Ratelimit.fixedWindow(rule.limit, rule.window),
    prefix: `ratelimit:${rule.name}`,
    ephemeralCache,
    analytics: false,
  });
  let result: Awaited<ReturnType<Ratelimit['limit']>>;
  try {
    result = await limiter.limit(identifier);
  } catch (error) {
    logger.error('rate limiter unavailable', { rule: rule.name, failClosed: options.failClosed, error });
    if (!options.failClosed) return null;
    throw new ApiError('service_unavailable', {
      detail: 'This operation is temporarily unavailable.',
      headers: { 'retry-after': '5' },
    });
  }
  const now = options.now ?? Date.now();
  const outcome: LimitOutcome = {
    rule,
    remaining: result.remaining,
    resetSeconds: Math.max(0, Math.ceil((result.reset - now) / 1000)),
  };
  if (!result.success) {
    throw new ApiError('rate_limited', {
      detail: 'Too many requests; retry after the time in Retry-After.',
      headers: { 'retry-after': String(Math.max(1, outcome.resetSeconds)), ...rateLimitHeaders(outcome) },
    });
  }
  return outcome;
}
