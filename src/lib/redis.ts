import { Redis } from '@upstash/redis/cloudflare';
import type { Bindings } from '../env.ts';
import { currentTrace } from './trace.ts';

/** The most a Redis call may take, retry included, before it fails (and a fail-open route goes on without it). */
export const REDIS_TIMEOUT_MS = 2_000;

/**
 * Retries are short and every call has a deadline: an edge request would rather fail over to a 503 (or fail open,
 * where a route allows it) than wait out a long backoff or a hung socket.
 */
function build(bindings: Bindings, url: string, options: { enableAutoPipelining?: boolean } = {}): Redis {
  return new Redis({
    url,
    token: bindings.UPSTASH_REDIS_REST_TOKEN,
    retry: { retries: 1, backoff: () => 50 },
    // A function: a fresh deadline per call (a fixed signal would make the client fake an "Aborted" result).
    signal: () => AbortSignal.timeout(REDIS_TIMEOUT_MS),
    enableTelemetry: false,
    ...options,
  });
}

const baseUrl = (bindings: Bindings): string => bindings.UPSTASH_REDIS_REST_URL.replace(/\/+$/, '');

/**
 * Upstash Redis over REST, a client of its own: for work off the request path (queue consumers, scheduled jobs,
 * work after the response), which must not count on a request's round trips. Requests use `sharedRedis`.
 *
 * Locally a given trace travels as a `/trace/<id>` URL prefix so the dev gateway can count round trips.
 */
export function createRedis(bindings: Bindings, requestId?: string): Redis {
  const base = baseUrl(bindings);
  const url =
    bindings.ENVIRONMENT === 'local' && requestId !== undefined
      ? `${base}/trace/${encodeURIComponent(requestId)}`
      : base;
  return build(bindings, url);
}

const shared = new WeakMap<Bindings, Redis>();

/**
 * The isolate's Upstash client for `bindings` (the validated bindings object is the same for every request of an
 * isolate), shared by every request: the client's constructor makes a closure per Redis command (hundreds), which
 * was a measurable part of a request's CPU when it ran per request.
 *
 * Sharing is safe because the client keeps nothing of a request: auto-pipelining is OFF here (it would merge the
 * commands of concurrent requests into one pipeline); a request's batching is its own RedisBatch
 * (src/lib/redis-batch.ts), built per request. The one value carried between calls is Upstash's read-your-writes
 * sync token, which only makes a later read at least as fresh as an earlier write.
 *
 * Locally each call carries the trace of the request it serves (`currentTrace`) as the `/trace/<id>` URL prefix, as
 * `createRedis` does, so the gateway still counts round trips per request.
 */
export function sharedRedis(bindings: Bindings): Redis {
  let redis = shared.get(bindings);
  if (redis === undefined) {
    redis = build(bindings, baseUrl(bindings), { enableAutoPipelining: false });
    if (bindings.ENVIRONMENT === 'local') {
      redis.use((request, send) => {
        const trace = currentTrace();
        return send(
          trace === undefined
            ? request
            : { ...request, path: ['trace', encodeURIComponent(trace), ...(request.path ?? [])] },
        );
      });
    }
    shared.set(bindings, redis);
  }
  return redis;
}
