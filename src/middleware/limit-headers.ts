import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { rateLimitHeaders, recordedOutcomes } from '../lib/rate-limit-headers.ts';

/**
 * Puts the `RateLimit` and `RateLimit-Policy` headers (IETF draft syntax) of every limiter that counted the request
 * (the plan's limits of authenticated requests, the platform administrators' limit, the per-address limits of the
 * sign-in flows, the public pages and the meta routes) on its response, errors included. A response that already
 * carries RateLimit headers (another limiter refused it) keeps its own.
 *
 * @example
 * app.use(planLimitHeaders());
 */
export function planLimitHeaders() {
  return createMiddleware<AppEnv>(async function planLimitHeadersMiddleware(c, next) {
    await next();
    const outcomes = recordedOutcomes(c.req.raw);
    if (outcomes.length === 0 || c.res.headers.has('ratelimit')) return;
    for (const [name, value] of Object.entries(rateLimitHeaders(...outcomes))) c.res.headers.set(name, value);
  });
}
