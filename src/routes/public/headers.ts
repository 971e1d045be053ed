import { rateLimitHeaders, type LimitOutcome } from '../../lib/rate-limit.ts';

/**
 * Headers of a successful public read: shared caches may keep it 30 seconds (the global middleware turns this into
 * no-store when the request carried credentials), and the caller's rate-limit state when Redis answered.
 */
export function publicReadHeaders(outcome: LimitOutcome | null): Record<string, string> {
  return {
    'cache-control': 'public, max-age=30',
    ...(outcome === null ? {} : rateLimitHeaders(outcome)),
  };
}
