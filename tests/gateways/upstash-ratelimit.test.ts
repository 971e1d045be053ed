import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '@upstash/redis';
import { TARGETS, startTarget, type Target } from './upstash-harness.ts';

// @upstash/ratelimit 2.2 scripts start with `#!lua flags=allow-key-locking`, which a real Redis refuses: these tests
// pass only if the gateway rewrites the shebang and translates the hard-coded EVALSHA hashes.

const WINDOW_MS = 10_000;

/** Fixed and sliding windows restart on multiples of the window: start a burst well inside one. */
async function awayFromWindowEdge(): Promise<void> {
  const intoWindow = Date.now() % WINDOW_MS;
  if (intoWindow > WINDOW_MS - 2_500) await new Promise((resolve) => setTimeout(resolve, WINDOW_MS - intoWindow + 50));
}

describe.each(TARGETS)('@upstash/ratelimit through the gateway ($name)', (spec) => {
  let target: Target;
  let redis: Redis;
  let limiterCount = 0;

  const make = (limiter: ConstructorParameters<typeof Ratelimit>[0]['limiter'], dynamicLimits = false): Ratelimit =>
    new Ratelimit({
      redis,
      limiter,
      prefix: `${target.prefix}rl${++limiterCount}`,
      ephemeralCache: false,
      analytics: false,
      enableProtection: false,
      dynamicLimits,
    });

  beforeAll(async () => {
    target = await startTarget(spec, 'upstash-ratelimit');
    redis = target.client();
  });

  afterAll(async () => {
    await (target as Target | undefined)?.close();
  });

  it('fixedWindow: N calls pass with decreasing remaining, call N+1 is refused with the window reset', async () => {
    const ratelimit = make(Ratelimit.fixedWindow(5, '10 s'));
    await awayFromWindowEdge();
    const expectedReset = (Math.floor(Date.now() / WINDOW_MS) + 1) * WINDOW_MS;
    for (let i = 1; i <= 5; i++) {
      const result = await ratelimit.limit('user-a');
      await result.pending;
      expect(result).toMatchObject({ success: true, limit: 5, remaining: 5 - i, reset: expectedReset });
    }
    const refused = await ratelimit.limit('user-a');
    expect(refused).toMatchObject({ success: false, limit: 5, remaining: 0, reset: expectedReset });
    expect(refused.reset).toBeGreaterThan(Date.now());

    // Another identifier has its own budget.
    expect(await ratelimit.limit('user-b')).toMatchObject({ success: true, remaining: 4 });

    expect(await ratelimit.getRemaining('user-a')).toEqual({ remaining: 0, reset: expectedReset, limit: 5 });
    expect(await ratelimit.getRemaining('user-b')).toMatchObject({ remaining: 4, limit: 5 });
    await ratelimit.resetUsedTokens('user-a');
    expect(await ratelimit.getRemaining('user-a')).toMatchObject({ remaining: 5, limit: 5 });
    expect(await ratelimit.getRemaining('user-b')).toMatchObject({ remaining: 4 });
    expect(await ratelimit.limit('user-a')).toMatchObject({ success: true, remaining: 4 });
  });

  it('slidingWindow: refuses the call after the budget and reports the window reset', async () => {
    const ratelimit = make(Ratelimit.slidingWindow(3, '10 s'));
    await awayFromWindowEdge();
    const expectedReset = (Math.floor(Date.now() / WINDOW_MS) + 1) * WINDOW_MS;
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await ratelimit.limit('slider');
      expect(result.success).toBe(true);
      expect(result.reset).toBe(expectedReset);
      remaining.push(result.remaining);
    }
    expect(remaining).toEqual([2, 1, 0]);
    expect(await ratelimit.limit('slider')).toMatchObject({
      success: false,
      remaining: 0,
      reset: expectedReset,
      limit: 3,
    });
    expect(await ratelimit.limit('other-slider')).toMatchObject({ success: true, remaining: 2 });
    expect(await ratelimit.getRemaining('slider')).toMatchObject({ remaining: 0, limit: 3 });
    await ratelimit.resetUsedTokens('slider');
    expect(await ratelimit.getRemaining('slider')).toMatchObject({ remaining: 3 });
  });

  it('tokenBucket: consumes tokens, refuses when empty, resets at refill time', async () => {
    const ratelimit = make(Ratelimit.tokenBucket(5, '10 s', 5));
    const before = Date.now();
    for (let i = 1; i <= 5; i++) {
      expect(await ratelimit.limit('bucket')).toMatchObject({ success: true, limit: 5, remaining: 5 - i });
    }
    const refused = await ratelimit.limit('bucket');
    expect(refused).toMatchObject({ success: false, limit: 5, remaining: 0 });
    // reset = refilledAt (the first call's timestamp) + interval.
    expect(refused.reset).toBeGreaterThanOrEqual(before + WINDOW_MS);
    expect(refused.reset).toBeLessThanOrEqual(Date.now() + WINDOW_MS);
    expect(await ratelimit.limit('other-bucket')).toMatchObject({ success: true, remaining: 4 });
    const state = await ratelimit.getRemaining('bucket');
    expect(state).toMatchObject({ remaining: 0, limit: 5, reset: refused.reset });
    await ratelimit.resetUsedTokens('bucket');
    expect(await ratelimit.getRemaining('bucket')).toMatchObject({ remaining: 5, limit: 5 });
  });

  it('honours a dynamic limit stored in Redis', async () => {
    const ratelimit = make(Ratelimit.fixedWindow(5, '10 s'), true);
    await awayFromWindowEdge();
    await ratelimit.setDynamicLimit({ limit: 2 });
    expect(await ratelimit.limit('dyn')).toMatchObject({ success: true, limit: 2, remaining: 1 });
    expect(await ratelimit.limit('dyn')).toMatchObject({ success: true, limit: 2, remaining: 0 });
    expect(await ratelimit.limit('dyn')).toMatchObject({ success: false, limit: 2 });
  });

  it('serves the hard-coded EVALSHA hashes after the first EVAL (one round trip per limit call)', async () => {
    const ratelimit = make(Ratelimit.fixedWindow(100, '10 s'));
    await ratelimit.limit('warm-up'); // EVALSHA -> NOSCRIPT or translated; then cached
    const before = { ...target.gateway.counter.total };
    for (let i = 0; i < 3; i++) await ratelimit.limit(`sha-${i}`);
    const after = target.gateway.counter.total;
    expect(after.requests - before.requests).toBe(3);
    expect(after.commands - before.commands).toBe(3);
  });
});
