import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { refuseIfKnownClosed, takeToken, type LimitOutcome, type LimitRule } from '../../lib/rate-limit.ts';
import { queueUsage } from '../plans/usage.ts';

/**
 * The public catalogue's read limit, per client address per organization (a fixed window in Upstash). Generous for a
 * person browsing or a page that polls, low enough that one client cannot scrape a catalogue in a loop. It fails
 * open: when Redis cannot answer, public reads go on (the failure is logged by takeToken).
 */
export const PUBLIC_READ_LIMIT = {
  name: 'public-read-ip',
  limit: 300,
  window: '1 m',
} as const satisfies LimitRule;

/**
 * The bucket of a public read: the organization and the address key of CF-Connecting-IP (an IPv4 address, an IPv6
 * /64; set by Cloudflare's edge, X-Forwarded-For is never trusted). A request without a usable address (local runs
 * only) shares one bucket per organization.
 */
export function publicReadBucket(organizationId: string, addressKey: string | null): string {
  return `${organizationId}:${addressKey ?? 'no-ip'}`;
}

/**
 * Runs a public read beside the caller's read limit: the Redis round trip (one unit of the bucket, plus the
 * organization's `api_calls` usage) and the read's database round trip go out together, so the request waits for
 * the slower of the two instead of both in turn. A bucket this isolate already knows is closed is refused before
 * either; a request over the limit gets 429 whatever the read found (its result is dropped). The outcome is null
 * when Redis is down (reads fail open).
 */
export async function publicRead<T>(
  ctx: ServiceContext,
  read: () => Promise<T>,
): Promise<{ outcome: LimitOutcome | null; result: T }> {
  const tenant = requireTenant(ctx);
  const bucket = publicReadBucket(tenant.id, ctx.client.addressKey);
  refuseIfKnownClosed(PUBLIC_READ_LIMIT, bucket);
  const [limit, found] = await Promise.allSettled([
    takeToken(ctx.services.redis, ctx.logger, PUBLIC_READ_LIMIT, bucket, {
      failClosed: false,
      alongside: (batch) => queueUsage(batch, ctx.logger, tenant.id, 'api_calls'),
      record: ctx.recordRateLimits,
    }),
    read(),
  ]);
  if (limit.status === 'rejected') throw limit.reason;
  if (found.status === 'rejected') throw found.reason;
  return { outcome: limit.value, result: found.value };
}

/**
 * Public checkout, per client address per organization: enough for a family buying in a few orders or a box office
 * on one connection, not enough to hold a venue's seats with a script. Fails open like the read limit: sales go on
 * when Redis cannot answer.
 */
export const PUBLIC_BOOKING_LIMIT = {
  name: 'public-booking-ip',
  limit: 20,
  window: '1 m',
} as const satisfies LimitRule;

/** Takes one unit of the public checkout limit of the caller's address key, with the `api_calls` usage count. */
export async function takePublicBooking(ctx: ServiceContext): Promise<LimitOutcome | null> {
  const tenant = requireTenant(ctx);
  return takeToken(
    ctx.services.redis,
    ctx.logger,
    PUBLIC_BOOKING_LIMIT,
    publicReadBucket(tenant.id, ctx.client.addressKey),
    {
      failClosed: false,
      alongside: (batch) => queueUsage(batch, ctx.logger, tenant.id, 'api_calls'),
      record: ctx.recordRateLimits,
    },
  );
}
