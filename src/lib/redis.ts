import { Redis } from '@upstash/redis/cloudflare';
import type { Bindings } from '../env.ts';

/** The most a Redis call may take, retry included, before it fails (and a fail-open route goes on without it). */
export const REDIS_TIMEOUT_MS = 2_000;

/**
 * Upstash Redis over REST, built per request. Retries are short and every call has a deadline: an edge request would
 * rather fail over to a 503 (or fail open, where a route allows it) than wait out a long backoff or a hung socket.
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
    // A function: a fresh deadline per call (a fixed signal would make the client fake an "Aborted" result).
    signal: () => AbortSignal.timeout(REDIS_TIMEOUT_MS),
    enableTelemetry: false,
  });
}
