import { Redis } from '@upstash/redis/cloudflare';
import type { Bindings } from '../env.ts';

/**
 * Upstash Redis over REST, built per request. Retries are short: an edge request would rather fail over to a 503
 * (or fail open, where a route allows it) than wait out a long backoff.
 *
 * Locally the request id travels as a `/trace/<id>` URL prefix so the dev gateway can count round trips.
 */
export function createRedis(bindings: Bindings, requestId?: string): Redis {
  const base = bindings.UPSTASH_REDIS_REST_URL.replace(/\/+$/, '');
  const url =
    bindings.ENVIRONMENT === 'local' && requestId !== undefined
      ? `${base}/trace/${encodeURIComponent(requestId)}`
      : base;
  return new Redis({
    url,
    token: bindings.UPSTASH_REDIS_REST_TOKEN,
    retry: { retries: 1, backoff: () => 50 },
    enableTelemetry: false,
  });
}
