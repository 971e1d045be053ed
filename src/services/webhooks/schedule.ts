/**
 * When failed deliveries are tried again. The Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h),
 * extended to about three and a half days: after the first attempt fails, the waits below follow one another, so a
 * delivery makes at most 11 attempts, the last about 85.6 hours (3.6 days) after the first. An endpoint that failed
 * every attempt for more than 3 days is disabled on its next failure (see deliver.ts), which the extended schedule
 * guarantees even for an endpoint that gets a single event.
 */
export const RETRY_SCHEDULE_SECONDS = [
  5,
  5 * 60,
  30 * 60,
  2 * 3600,
  5 * 3600,
  10 * 3600,
  10 * 3600,
  14 * 3600,
  20 * 3600,
  24 * 3600,
] as const;

/** Attempts per delivery: the first one plus one per wait. */
export const MAX_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length + 1;

/** The longest delay Cloudflare Queues accepts; a longer wait is split into hops (see deliver.ts). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 3600;

/** Bounds of a receiver's Retry-After (429 and 503): at least 5 s, at most 12 h. */
export const MIN_RETRY_AFTER_SECONDS = 5;
export const MAX_RETRY_AFTER_SECONDS = 12 * 3600;

/** The wait after attempt number `attempt` (1-based) failed, or null when that was the last one. */
export function retryDelayAfter(attempt: number): number | null {
  return RETRY_SCHEDULE_SECONDS[attempt - 1] ?? null;
}

/** A Retry-After header (delay seconds or an HTTP date) in seconds from `now`, bounded; null when absent or invalid. */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  let seconds: number;
  if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    seconds = Math.ceil((at - now) / 1000);
  }
  return Math.min(Math.max(seconds, MIN_RETRY_AFTER_SECONDS), MAX_RETRY_AFTER_SECONDS);
}

/** The delay to pass to `message.retry` for a wait of `seconds`: the wait itself, capped at the queue maximum. */
export function queueDelay(seconds: number): number {
  return Math.min(Math.max(0, Math.ceil(seconds)), MAX_QUEUE_DELAY_SECONDS);
}
