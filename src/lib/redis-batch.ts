import type { Redis } from '@upstash/redis/cloudflare';

type Pipeline = ReturnType<Redis['pipeline']>;

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Redis commands from several callers sent as ONE pipeline: one HTTP round trip to Upstash. The request path of an
 * authenticated call queues the revocation MGET, the plan's rate limiters (@upstash/ratelimit's EVALSHA) and the
 * usage counters here, then `send()`s them together. (The client's own auto-pipelining keeps reads and writes in
 * separate pipelines, which would make that two round trips.)
 *
 * Each caller awaits its own answer. A command that fails rejects only its caller, with Redis's message (so
 * @upstash/ratelimit sees `NOSCRIPT` and falls back to EVAL by itself); a failed round trip rejects every caller.
 * A command queued after `send()` runs on its own (one more round trip; the EVAL fallback on a cold script cache).
 */
export class RedisBatch {
  readonly #redis: Redis;
  readonly #pipeline: Pipeline;
  readonly #waiters: Waiter[] = [];
  #sent = false;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#pipeline = redis.pipeline();
  }

  /** How many commands wait for `send()`. */
  get size(): number {
    return this.#waiters.length;
  }

  /** Queues one command (`add` appends it to the pipeline) and returns its answer. */
  command<T>(add: (pipeline: Pipeline) => unknown): Promise<T> {
    if (this.#sent) {
      const single = this.#redis.pipeline();
      add(single);
      return single.exec().then(([result]) => result as T);
    }
    return new Promise<T>((resolve, reject) => {
      add(this.#pipeline);
      this.#waiters.push({
        resolve: (value) => {
          resolve(value as T);
        },
        reject,
      });
    });
  }

  /** Sends the queued commands in one round trip (nothing when none are queued); callers get their answers. */
  send(): void {
    if (this.#sent) return;
    this.#sent = true;
    const waiters = this.#waiters.splice(0);
    if (waiters.length === 0) return;
    this.#pipeline.exec({ keepErrors: true }).then(
      (results) => {
        waiters.forEach((waiter, index) => {
          const answer = results[index];
          if (answer === undefined) waiter.reject(new Error('Redis answered fewer commands than were sent'));
          else if (answer.error !== undefined) waiter.reject(new Error(answer.error));
          else waiter.resolve(answer.result);
        });
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }

  // The commands @upstash/ratelimit's fixed window uses (EVALSHA; EVAL after NOSCRIPT) and the revocation check's.

  evalsha<TData = unknown>(sha1: string, keys: string[], args: unknown[]): Promise<TData> {
    return this.command<TData>((pipeline) => pipeline.evalsha<unknown[], TData>(sha1, keys, args));
  }

  eval<TData = unknown>(script: string, keys: string[], args: unknown[]): Promise<TData> {
    return this.command<TData>((pipeline) => pipeline.eval<unknown[], TData>(script, keys, args));
  }

  mget<TData extends unknown[]>(...keys: [string[]] | string[]): Promise<TData> {
    return this.command<TData>((pipeline) => pipeline.mget<TData>(...keys));
  }
}
