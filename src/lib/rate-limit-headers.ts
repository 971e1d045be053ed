/**
 * The part of the rate limiting that needs no limiter: the rules' and outcomes' types, the IETF RateLimit headers and
 * the per-request record of outcomes. Its own module so that the planLimitHeaders middleware, which every isolate
 * loads at start-up, does not load @upstash/ratelimit and its scripts with it (./rate-limit.ts re-exports all of it).
 */
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

function windowSeconds(window: Duration): number {
  const [amount, unit] = window.split(' ') as [string, 's' | 'm' | 'h'];
  return Number(amount) * { s: 1, m: 60, h: 3600 }[unit];
}

/**
 * IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers): the policies and their current state. Several
 * outcomes (an organization's and a caller's limit) become one list per header, in the order given.
 */
export function rateLimitHeaders(...outcomes: LimitOutcome[]): Record<string, string> {
  return {
    'ratelimit-policy': outcomes
      .map(({ rule }) => `"${rule.name}";q=${rule.limit};w=${windowSeconds(rule.window)}`)
      .join(', '),
    ratelimit: outcomes
      .map(({ rule, remaining, resetSeconds }) => `"${rule.name}";r=${Math.max(0, remaining)};t=${resetSeconds}`)
      .join(', '),
  };
}

// The outcomes of every limiter that counted a request, for the RateLimit headers of its response (errors included):
// `recordOutcomes` by the limiters, `recordedOutcomes` by the planLimitHeaders middleware. Keyed by the request, so an
// entry lives exactly as long as the request.
const outcomesOf = new WeakMap<Request, LimitOutcome[]>();

/** Remembers the state of limiters that counted `request`, so its response carries their RateLimit headers. */
export function recordOutcomes(request: Request, outcomes: readonly LimitOutcome[]): void {
  if (outcomes.length === 0) return;
  outcomesOf.set(request, [...(outcomesOf.get(request) ?? []), ...outcomes]);
}

/** The limiters' state recorded for `request` (empty when no limiter counted it). */
export function recordedOutcomes(request: Request): readonly LimitOutcome[] {
  return outcomesOf.get(request) ?? [];
}

/** Where a service reports the limiters it ran (`ServiceContext.recordRateLimits`). */
export type LimitRecorder = (outcomes: readonly LimitOutcome[]) => void;
