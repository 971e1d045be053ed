import type { z } from '@hono/zod-openapi';
import type { Context, TypedResponse } from 'hono';
import type { JSONParsed } from 'hono/utils/types';
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

/**
 * A 200 JSON answer from text already serialized (the edge cache's, see src/services/catalogue/edge-cache.ts), typed
 * as `c.json` would type it: the text is the JSON of a value the schema `S` validated, so re-parsing it to hand it
 * to `c.json` would only cost CPU on every cache hit.
 */
export function cachedJson<S extends z.ZodType>(
  c: Context,
  body: string,
  headers: Record<string, string>,
): Response & TypedResponse<JSONParsed<z.output<S>>, 200, 'json'> {
  const response = c.body(body, 200, { 'content-type': 'application/json', ...headers });
  // The body is that JSON (see above); the cast only restores the type c.json would have given.
  return response as unknown as Response & TypedResponse<JSONParsed<z.output<S>>, 200, 'json'>;
}
