import type { ServiceContext } from '../../lib/context.ts';
import { takeTokens, type LimitRule } from '../../lib/rate-limit.ts';
import { hashToken } from './tokens.ts';

/**
 * The brute-force limits of the authentication endpoints (fixed windows in Upstash). Every rule fails closed: when
 * Redis cannot answer, these routes answer 503 rather than let guessing become free.
 *
 * Client buckets are keyed on CF-Connecting-IP (set by Cloudflare's edge; X-Forwarded-For never chooses a bucket),
 * an IPv6 client on its /64 (`addressKey`).
 * Account buckets are keyed on a SHA-256 of the normalized email address, so Redis holds no addresses, and are
 * global: the password is the global identity's, so guesses against one account share one bucket across
 * organizations.
 */
export const AUTH_LIMITS = {
  /** Sign-ups from one client: enough for a family behind one NAT, too few to enumerate addresses. */
  registerClient: { name: 'auth-register-ip', limit: 10, window: '1 h' },
  loginClient: { name: 'auth-login-ip', limit: 30, window: '15 m' },
  loginAccount: { name: 'auth-login-account', limit: 10, window: '15 m' },
  forgotClient: { name: 'auth-forgot-ip', limit: 10, window: '1 h' },
  forgotAccount: { name: 'auth-forgot-account', limit: 5, window: '1 h' },
  resetClient: { name: 'auth-reset-ip', limit: 10, window: '15 m' },
  verifyClient: { name: 'auth-verify-ip', limit: 20, window: '15 m' },
  resendAccount: { name: 'auth-resend-user', limit: 3, window: '1 h' },
} as const satisfies Record<string, LimitRule>;

/**
 * The client bucket: the address key of CF-Connecting-IP (an IPv4 address, an IPv6 /64). Cloudflare always sets it
 * in staging and production; a request without it, or with one that does not parse (local runs only), shares one
 * bucket per host, never a bucket the caller can choose.
 */
export function clientBucket(ctx: Pick<ServiceContext, 'client' | 'tenant'>): string {
  return ctx.client.addressKey ?? `no-ip:${ctx.tenant?.id ?? 'platform'}`;
}

/** The account bucket of a normalized email address. */
export function accountBucket(email: string): Promise<string> {
  return hashToken(`account:${email}`);
}

/** Takes one unit from every listed bucket in one Redis round trip, failing closed (`takeTokens`). */
export async function enforceLimits(
  ctx: Pick<ServiceContext, 'services' | 'logger'>,
  checks: readonly (readonly [LimitRule, string])[],
): Promise<void> {
  await takeTokens(ctx.services.redis, ctx.logger, checks, { failClosed: true });
}
