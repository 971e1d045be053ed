import { Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '@upstash/redis/cloudflare';
import { ApiError } from '../errors/api-error.ts';
import type { Logger } from './logger.ts';
import { RedisBatch } from './redis-batch.ts';
import { rateLimitHeaders, type LimitOutcome, type LimitRecorder, type LimitRule } from './rate-limit-headers.ts';

export {
  rateLimitHeaders,
  recordedOutcomes,
  recordOutcomes,
  type LimitOutcome,
  type LimitRecorder,
  type LimitRule,
} from './rate-limit-headers.ts';

// Blocked identifiers are remembered in the isolate until their window resets: a client hammering a closed bucket
// costs no Redis round trip (@upstash/ratelimit's ephemeral cache).
const ephemeralCache = new Map<string, number>();

function limited(outcome: LimitOutcome, ...others: LimitOutcome[]): ApiError {
  return new ApiError('rate_limited', {
    detail: 'Too many requests; retry after the time in Retry-After.',
    headers: { 'retry-after': String(Math.max(1, outcome.resetSeconds)), ...rateLimitHeaders(outcome, ...others) },
  });
}

/**
 * Refuses at once with 429, before any Redis command, when this isolate already saw the bucket close in its current
 * window (the ephemeral cache that @upstash/ratelimit fills): a client hammering a closed bucket costs nothing.
 */
export function refuseIfKnownClosed(rule: LimitRule, identifier: string, now = Date.now()): void {
  const reset = ephemeralCache.get(`ratelimit:${rule.name}:${identifier}`);
  if (reset !== undefined && reset > now) {
    throw limited({ rule, remaining: 0, resetSeconds: Math.ceil((reset - now) / 1000) });
  }
}

type Answer = Awaited<ReturnType<Ratelimit['limit']>>;

/**
 * Queues the taking of `units` (default one) from `identifier`'s bucket (a fixed window in Upstash) on `batch`: the
 * EVALSHA goes out with the batch's other commands when it is sent. Settle the answer with `settleToken`.
 */
export function requestToken(batch: RedisBatch, rule: LimitRule, identifier: string, units = 1): Promise<Answer> {
  // The fixed window only calls EVALSHA (and EVAL after NOSCRIPT), which the batch provides.
  return limiterOf(batch as unknown as Redis, rule).limit(identifier, units === 1 ? undefined : { rate: units });
}

function limiterOf(redis: Redis, rule: LimitRule): Ratelimit {
  return new Ratelimit({
    redis,
    limiter: Ratelimit.fixedWindow(rule.limit, rule.window),
    prefix: `ratelimit:${rule.name}`,
    ephemeralCache,
    analytics: false,
  });
}

/**
 * Gives one unit back to `identifier`'s bucket in the current window (@upstash/ratelimit's negative `rate`: an
 * INCRBY -1 of the same key), and forgets in this isolate that the bucket was closed. One round trip. A give-back
 * that lands just after the window turned starts the next window one unit lower: one extra unit in that window, at
 * most one per unit taken.
 */
export async function giveBackToken(redis: Redis, rule: LimitRule, identifier: string): Promise<void> {
  await limiterOf(redis, rule).limit(identifier, { rate: -1 });
}

/**
 * The outcome of a queued token: over the limit, a 429 problem with Retry-After and the RateLimit headers. If Redis
 * could not answer, `failClosed` refuses with 503 (authentication flows: guessing must never become free), otherwise
 * the request proceeds (null) and the failure is logged.
 */
export async function settleToken(
  answer: Promise<Answer>,
  logger: Logger,
  rule: LimitRule,
  options: { failClosed: boolean; now?: number },
): Promise<LimitOutcome | null> {
  let result: Answer;
  try {
    result = await answer;
  } catch (error) {
    logger.repeating('error', 'rate limiter unavailable', { rule: rule.name, failClosed: options.failClosed, error });
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
  if (!result.success) throw limited(outcome);
  return outcome;
}

type TakeOptions = {
  failClosed: boolean;
  now?: number;
  alongside?: (batch: RedisBatch) => void;
  /** Receives the outcomes when every bucket admitted the request, for the response's RateLimit headers. */
  record?: LimitRecorder | undefined;
};

/**
 * Takes one unit from every listed bucket in ONE Redis round trip (a pipeline of the limiters' EVALSHAs), none when
 * the isolate knows one of the buckets is closed; the first refusal in list order wins. `alongside` queues more
 * commands into the same round trip (the usage counters of the public pages).
 */
export async function takeTokens(
  redis: Redis,
  logger: Logger,
  checks: readonly (readonly [LimitRule, string, number?])[],
  options: TakeOptions,
): Promise<(LimitOutcome | null)[]> {
  for (const [rule, identifier] of checks) refuseIfKnownClosed(rule, identifier, options.now);
  const batch = new RedisBatch(redis);
  // A third element gives the units to take; 0 only checks that the bucket is not over its limit (discount-code
  // guessing: failures are counted afterwards, see src/services/discounts/limits.ts).
  const answers = checks.map(([rule, identifier, units]) => ({
    rule,
    answer: requestToken(batch, rule, identifier, units ?? 1),
  }));
  options.alongside?.(batch);
  batch.send();
  const outcomes = await Promise.all(answers.map(({ rule, answer }) => settleToken(answer, logger, rule, options)));
  options.record?.(outcomes.filter((outcome) => outcome !== null));
  return outcomes;
}

/** Takes one unit from `identifier`'s bucket (`takeTokens` with one bucket). */
export async function takeToken(
  redis: Redis,
  logger: Logger,
  rule: LimitRule,
  identifier: string,
  options: TakeOptions,
): Promise<LimitOutcome | null> {
  const [outcome] = await takeTokens(redis, logger, [[rule, identifier]], options);
  return outcome ?? null;
}
