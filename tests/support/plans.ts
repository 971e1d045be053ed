import { env } from 'cloudflare:workers';
import { and, eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { usageDaily } from '../../src/db/schema/index.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import { usageKey, utcDay, type CountedMetric } from '../../src/services/plans/usage.ts';
import { database } from './harness.ts';

export const bindings = () => readBindings(env as unknown as Record<string, unknown>);

/** A Redis client for fixtures and assertions (not on any request's trace). */
export function redis() {
  return createRedis(bindings());
}

/**
 * Waits until the current fixed rate-limit window (one minute unless `windowMs` says otherwise; windows start at
 * multiples of their length) has at least `marginMs` left, so a test's burst of requests lands in one window (a
 * burst straddling the boundary would start counting again).
 */
export async function awayFromWindowEdge(marginMs = 6_000, windowMs = 60_000): Promise<void> {
  const into = Date.now() % windowMs;
  if (into > windowMs - marginMs) await new Promise((resolve) => setTimeout(resolve, windowMs - into + 100));
}

export interface PolicyItem {
  name: string;
  params: Record<string, number>;
}

/** Parses a RateLimit or RateLimit-Policy header (a structured-field list: `"name";q=100;w=60, ...`). */
export function parseRateLimitHeader(value: string | null): PolicyItem[] {
  expect(value, 'the header is present').not.toBeNull();
  return (value ?? '').split(/,\s*/).map((item) => {
    const [name, ...params] = item.split(';');
    expect(name).toMatch(/^"[a-z0-9-]+"$/);
    return {
      name: (name ?? '').slice(1, -1),
      params: Object.fromEntries(
        params.map((param) => {
          const [key, raw] = param.split('=');
          expect(raw).toMatch(/^\d+$/);
          return [key ?? '', Number(raw)];
        }),
      ),
    };
  });
}

/**
 * An organization's count of a metric for a day wherever it is right now: still in Redis or already flushed into
 * usage_daily (another test file's flush may move it at any time).
 */
export async function usageCount(organizationId: string, metric: CountedMetric, day = utcDay()): Promise<number> {
  const [live, rows] = await Promise.all([
    redis().get<number>(usageKey(organizationId, metric, day)),
    database()
      .select({ count: usageDaily.count })
      .from(usageDaily)
      .where(
        and(eq(usageDaily.organizationId, organizationId), eq(usageDaily.day, day), eq(usageDaily.metric, metric)),
      ),
  ]);
  return (live ?? 0) + (rows[0]?.count ?? 0);
}

/** Polls until `read` returns `expected` (counting happens after the response in some paths). */
export async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 3_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (JSON.stringify(value) === JSON.stringify(expected) || Date.now() - started > timeoutMs) {
      expect(value).toEqual(expected);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
