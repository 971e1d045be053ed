import type { ServiceContext } from '../../lib/context.ts';
import { giveBackToken, takeTokens, type LimitRule } from '../../lib/rate-limit.ts';
import { afterResponseTraceId } from '../../lib/trace.ts';
import type { RedisBatch } from '../../lib/redis-batch.ts';
import { createRedis } from '../../lib/redis.ts';
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
  /**
   * Failed password checks of one account, on every path that checks a password (sign-in, sign-up and
   * organization sign-up with an existing address, accepting an invitation as an existing account). Each check
   * takes a unit up front; a success gives it back (`giveBackAccountAttempt`).
   */
  loginAccount: { name: 'auth-login-account', limit: 10, window: '15 m' },
  forgotClient: { name: 'auth-forgot-ip', limit: 10, window: '1 h' },
  forgotAccount: { name: 'auth-forgot-account', limit: 5, window: '1 h' },
  resetClient: { name: 'auth-reset-ip', limit: 10, window: '15 m' },
  verifyClient: { name: 'auth-verify-ip', limit: 20, window: '15 m' },
  resendAccount: { name: 'auth-resend-user', limit: 3, window: '1 h' },
  /** Second-step attempts (MFA codes) from one client address. */
  mfaClient: { name: 'auth-mfa-ip', limit: 30, window: '15 m' },
  /**
   * Failed second-step attempts of one account (a user, across organizations), taken up front and given back on
   * success like `loginAccount`. A TOTP guess hits one of 3 codes in 10^6 (±1 step): 5 per 15 minutes and 20 a day
   * bound an attacker who holds the password to about 2% a year of guessing a code.
   */
  mfaAccount: { name: 'auth-mfa-account', limit: 5, window: '15 m' },
  mfaAccountDay: { name: 'auth-mfa-account-day', limit: 20, window: '24 h' },
} as const satisfies Record<string, LimitRule>;

/**
 * Token refreshes from one client address, per organization host: every signed-in app of a busy office refreshes each
 * 15 minutes, far below this; a loop replaying refresh tokens is not. Refresh tokens are unguessable, so unlike the
 * rules above it fails open (routes/auth/index.ts): a Redis outage must not sign everyone out.
 */
export const REFRESH_CLIENT_LIMIT = {
  name: 'auth-refresh-ip',
  limit: 600,
  window: '15 m',
} as const satisfies LimitRule;

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
  ctx: Pick<ServiceContext, 'services' | 'logger' | 'recordRateLimits'>,
  checks: readonly (readonly [LimitRule, string])[],
): Promise<void> {
  await takeTokens(ctx.services.redis, ctx.logger, checks, { failClosed: true, record: ctx.recordRateLimits });
}

/**
 * The client address's sign-in limit (`loginClient`, failing closed) and one more Redis command in the same round
 * trip: the single-use challenges and codes of the passwordless and federated sign-ins.
 */
export async function withLoginLimit<T>(
  ctx: Pick<ServiceContext, 'services' | 'logger' | 'recordRateLimits' | 'client' | 'tenant'>,
  command: (batch: RedisBatch) => Promise<T>,
): Promise<T> {
  let answer: Promise<T> | undefined;
  await takeTokens(ctx.services.redis, ctx.logger, [[AUTH_LIMITS.loginClient, clientBucket(ctx)]], {
    failClosed: true,
    record: ctx.recordRateLimits,
    alongside: (batch) => {
      answer = command(batch);
    },
  });
  return answer as Promise<T>;
}

/**
 * Gives back the account-bucket unit of a password check that succeeded (the request signed in, signed up or joined),
 * so only failures fill the bucket: a user signing in on many devices is never locked out. The unit was taken up
 * front and atomically, so concurrent guesses stay bounded by the limit. Only on success: a right password that
 * still answers 401 or 409 (no membership here, a member already) keeps its unit, or the bucket would tell which
 * guess was right.
 *
 * The give-back leaves after the response (`waitUntil`), off the request path: its own Redis round trip, traced
 * locally as `<trace>.after-response` (`traceId`: the trace of the request's own round trips) so round-trip counts keep
 * measuring the request.
 */
export function giveBackAccountAttempt(
  ctx: Pick<ServiceContext, 'bindings' | 'client' | 'waitUntil'>,
  bucket: string,
  rules: readonly LimitRule[] = [AUTH_LIMITS.loginAccount],
): void {
  const redis = createRedis(ctx.bindings, afterResponseTraceId(ctx.client));
  ctx.waitUntil(Promise.all(rules.map((rule) => giveBackToken(redis, rule, bucket))));
}
