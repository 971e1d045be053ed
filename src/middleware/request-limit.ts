import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { clientInfo } from '../lib/client.ts';
import { recordOutcomes, takeToken, type LimitRule } from '../lib/rate-limit.ts';

/**
 * The limit of the document, reference, key-set and readiness reads, per client address: far above what a browser,
 * a JWKS cache or a monitor needs, a bound on a loop. Fails open: these reads go on when Redis cannot answer.
 */
export const META_READ_LIMIT = { name: 'meta-read-ip', limit: 300, window: '1 m' } as const satisfies LimitRule;

/**
 * Stripe's event deliveries to one organization's webhook, per organization: far above Stripe's own pace (it retries
 * a 429 with backoff), a bound on anyone replaying signed-looking requests. Fails open: payments must not wait on Redis.
 */
export const STRIPE_WEBHOOK_LIMIT = {
  name: 'stripe-webhook-organization',
  limit: 600,
  window: '1 m',
} as const satisfies LimitRule;

/**
 * Stripe Billing's event deliveries to the platform's billing webhook (plan subscriptions of every organization): one
 * platform-wide bucket, far above Stripe's pace. Fails open like the payments webhook.
 */
export const STRIPE_BILLING_WEBHOOK_LIMIT = {
  name: 'stripe-billing-webhook',
  limit: 1200,
  window: '1 m',
} as const satisfies LimitRule;

/** The bucket of a per-address limit: the client's address key on this host (one shared bucket without an address). */
export function addressBucket(c: Context<AppEnv>): string {
  return `${c.var.tenant?.id ?? 'platform'}:${clientInfo(c).addressKey ?? 'no-ip'}`;
}

/** The bucket of a per-organization limit (the platform host has one of its own). */
export function organizationBucket(c: Context<AppEnv>): string {
  return c.var.tenant?.id ?? 'platform';
}

/**
 * Route middleware: takes one unit of `rule` from the request's bucket (one Redis round trip), 429 with Retry-After
 * over the limit, and leaves the limit's state for the response's RateLimit headers. Fails open (logged).
 *
 * @example
 * app.use('/.well-known/jwks.json', limitRequests(META_READ_LIMIT, addressBucket));
 */
export function limitRequests(rule: LimitRule, bucket: (c: Context<AppEnv>) => string) {
  return createMiddleware<AppEnv>(async function limitRequestsMiddleware(c, next) {
    await takeToken(c.var.services.redis, c.var.logger, rule, bucket(c), {
      failClosed: false,
      record: (outcomes) => recordOutcomes(c.req.raw, outcomes),
    });
    await next();
  });
}
