import type { Context, Next } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import type { Permission } from '../services/auth/permissions.ts';
import { createDatabase } from '../db/client.ts';
import { serviceContext } from '../lib/context.ts';
import { createRedis } from '../lib/redis.ts';
import { afterResponseTraceId } from '../lib/trace.ts';
import {
  apiKeyPrincipal,
  lastUseWrite,
  loadApiKeyRecord,
  parseApiKeyRecord,
  presentedApiKey,
  storeApiKeyRecord,
  type ApiKeyRecord,
  type PresentedApiKey,
} from '../services/auth/api-key-credentials.ts';
import { admit, admitApiKey } from './plan-limits.ts';
import { PLATFORM_TENANT, verifyAccessToken, type Principal } from '../services/auth/tokens.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const BEARER_API_KEY = /^Bearer (evk_[A-Za-z0-9_-]+)$/;

function unauthorized(detail: string): ApiError {
  return new ApiError('unauthorized', { detail, headers: { 'www-authenticate': 'Bearer' } });
}

/** Methods whose routes only read: their database round trip may go out beside the admission's Redis round trip. */
const READS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * The bearer credential: an access token (a JWT) or an API key (`evk_...`), whose checksum is verified in the
 * isolate (src/services/auth/api-key-credentials.ts). No I/O.
 */
async function presentedCredential(
  c: Context<AppEnv>,
): Promise<{ token: string; key?: undefined } | { key: PresentedApiKey; token?: undefined }> {
  const header = c.req.header('authorization');
  if (header === undefined) throw unauthorized('Authentication required.');
  const key = BEARER_API_KEY.exec(header)?.[1];
  if (key !== undefined) return { key: await presentedApiKey(c.var.bindings.DATA_ENCRYPTION_KEY, key) };
  const match = BEARER.exec(header);
  if (!match?.[1]) {
    throw unauthorized('Send the access token or API key as `Authorization: Bearer <token>`.');
  }
  return { token: match[1] };
}

/** The bearer token's signature and claims, checked locally (jose, keys cached in the isolate): no I/O. */
async function verifiedToken(c: Context<AppEnv>, token: string): Promise<Principal> {
  const expectedTenant = c.var.tenant?.id ?? PLATFORM_TENANT;
  const { JWT_SIGNING_KEYS, ROOT_DOMAIN } = c.var.bindings;
  return verifyAccessToken(JWT_SIGNING_KEYS, ROOT_DOMAIN, token, expectedTenant);
}

function unavailable(c: Context<AppEnv>, error: unknown): ApiError {
  c.var.logger.repeating('error', 'revocation check failed', { error });
  return new ApiError('service_unavailable', {
    detail: 'Sessions cannot be checked right now.',
    headers: { 'retry-after': '5' },
  });
}

/**
 * An API key's admission, in the same one Redis round trip as a session's: the key's record beside its own rate
 * limit (`admitApiKey`). A key is valid only on its organization's host (elsewhere 401). When Redis has no record
 * (lost, or never written because Redis failed at creation), the database row refills it: one more database round
 * trip (and a Redis write after the response), the rare miss path. Redis unreachable: 503 (fail closed). After the
 * response, the key's last use is written (at most once a minute per key and isolate).
 */
async function admittedApiKey(c: Context<AppEnv>, presented: PresentedApiKey, units = 1): Promise<Principal> {
  const tenant = c.var.tenant;
  if (!tenant) throw unauthorized("API keys are valid only on their organization's host.");
  const admission = admitApiKey(c, tenant, presented.id, units);
  let record: ApiKeyRecord | null;
  try {
    record = parseApiKeyRecord(await admission.record);
  } catch (error) {
    throw unavailable(c, error);
  }
  // Work after the response: failures logged (`ServiceContext.waitUntil`), round trips traced apart.
  const context = serviceContext(c);
  const { client, bindings } = context;
  const later = afterResponseTraceId(client);
  if (record === null) {
    record = await loadApiKeyRecord(c.var.services.db, tenant.id, presented.id);
    if (record !== null) {
      context.waitUntil(storeApiKeyRecord(createRedis(bindings, later), presented.id, record, { onlyIfAbsent: true }));
    }
  }
  let principal: Principal;
  try {
    principal = await apiKeyPrincipal(presented, record, tenant.id);
  } catch (refusal) {
    // As for a revoked session: the limits were counted in the same round trip, so the 401 carries their headers.
    await Promise.allSettled([admission.limits]);
    throw refusal;
  }
  await admission.limits;
  const write = lastUseWrite(createDatabase(bindings, later), principal, client.ip);
  if (write !== null) context.waitUntil(write());
  return principal;
}

/**
 * The session's admission, in one Redis round trip: the revocation records (one MGET), and on an organization host
 * the plan's rate limits and usage (src/middleware/plan-limits.ts). When Redis cannot answer, it rejects with 503: an
 * ended session must never pass because the denylist was unreachable. A revoked session rejects with 401, a caller
 * over a limit with 429 (fail open when only the limiter fails).
 */
async function admitted(c: Context<AppEnv>, principal: Principal, units = 1): Promise<void> {
  const admission = admit(c, principal, units);
  let revoked: boolean;
  try {
    revoked = await admission.revoked;
  } catch (error) {
    throw unavailable(c, error);
  }
  if (revoked) {
    // The limits were counted in the same round trip: settle them so this 401 carries their RateLimit headers (a
    // revoked session answers 401 even when it is over a limit).
    await Promise.allSettled([admission.limits]);
    throw unauthorized('The session has ended.');
  }
  await admission.limits;
}

/**
 * The one rule of impersonation tokens (src/services/impersonations/) on every guarded route, GraphQL included: in
 * `read_only` mode (the only one offered) a request that is not a read (GET, HEAD) is refused with 403
 * `impersonation_read_only`, whatever the route, before it runs. What an impersonator may not even read is refused
 * by `requireSession()` and `requireRecentAuth()`.
 */
function refuseImpersonatedWrite(c: Context<AppEnv>, principal: Principal): void {
  if (principal.impersonation?.mode === 'read_only' && !READS.has(c.req.method)) {
    throw new ApiError('impersonation_read_only', {
      detail: 'This is a read-only impersonation: only GET and HEAD requests are allowed with its token.',
    });
  }
}

/**
 * Every guard's path: the verified caller, once per request, then the guard's own `check` (host, permissions), then
 * the route. A write runs only after the session is admitted. A read (GET, HEAD) runs beside the admission, so its
 * database round trip and the admission's Redis round trip go out together and the request waits for the slower of
 * the two instead of both in turn (the same shape as the public reads' `publicRead`); nothing the route produced is
 * sent unless the session is admitted: a revoked session still gets 401, an unverifiable one 503 and one over a limit
 * 429, and the read's result is dropped. The admission's answer also comes before the guard's 403.
 */
async function guard(c: Context<AppEnv>, next: Next, guardCheck: (principal: Principal) => void): Promise<void> {
  const check = (principal: Principal) => {
    refuseImpersonatedWrite(c, principal);
    guardCheck(principal);
  };
  const known = c.var.principal;
  if (known) {
    check(known);
    await next();
    return;
  }
  const credential = await presentedCredential(c);
  if (credential.key) {
    // The key's permissions come with its record, so the route (a read too) runs only after the admission.
    const principal = await admittedApiKey(c, credential.key);
    c.set('principal', principal);
    check(principal);
    await next();
    return;
  }
  const principal = await verifiedToken(c, credential.token);
  const admission = admitted(c, principal);
  if (!READS.has(c.req.method)) {
    await admission;
    c.set('principal', principal);
    check(principal);
    await next();
    return;
  }
  try {
    check(principal);
  } catch (refusal) {
    await admission;
    throw refusal;
  }
  c.set('principal', principal);
  const route = next();
  try {
    await admission;
  } finally {
    // The route settles first either way: its response must not land after the refusal has replaced it.
    await route;
  }
}

/** The principal of a route that requires authentication (after `requireAuth()` or `requirePermission()`). */
export function principalOf(c: { var: { principal: Principal | null } }): Principal {
  const principal = c.var.principal;
  if (!principal) throw unauthorized('Authentication required.');
  return principal;
}

/**
 * Organization routes exist only on organization hosts, platform routes only on the platform host: on the other kind
 * of host the guard answers 404 like an unknown path, before it looks at any token (docs/API.md).
 */
function wrongHost(): ApiError {
  return new ApiError('not_found', { detail: 'No such resource.' });
}

/**
 * The caller of a GraphQL operation (src/routes/graphql/): on an organization host only (404 elsewhere), the bearer
 * token verified (401) or the API key's checksum, then the session or key admitted in one Redis round trip with the
 * plan's limits charged `units`, the operation's cost, instead of one (401 revoked, 429, 503). `cost` runs before
 * any Redis work: the operation is parsed, validated and costed there, so a malformed or too costly
 * one is refused without touching Redis. Permissions are the resolvers' business, field by field.
 */
export async function admitOperation(c: Context<AppEnv>, cost: () => Promise<number>): Promise<Principal> {
  if (!c.var.tenant) throw wrongHost();
  const credential = await presentedCredential(c);
  const principal = credential.key
    ? await admittedApiKey(c, credential.key, await cost())
    : await verifiedToken(c, credential.token);
  if (principal.credential === 'session') await admitted(c, principal, await cost());
  refuseImpersonatedWrite(c, principal);
  c.set('principal', principal);
  return principal;
}

/** Refuses anonymous requests with 401 (on both kinds of host: the route decides what its host serves). */
export function requireAuth() {
  return createMiddleware<AppEnv>(async function requireAuthMiddleware(c, next) {
    await guard(c, next, () => undefined);
  });
}

/** Organization routes: 404 on the platform host, then callers without every listed permission 403 (anonymous 401). */
export function requirePermission(...permissions: Permission[]) {
  return createMiddleware<AppEnv>(async function requirePermissionMiddleware(c, next) {
    if (!c.var.tenant) throw wrongHost();
    await guard(c, next, (principal) => {
      const missing = permissions.filter((permission) => !principal.permissions.has(permission));
      if (missing.length > 0) {
        throw new ApiError('forbidden', { detail: `This needs the ${missing.join(', ')} permission.` });
      }
    });
  });
}

/** Organization routes: 404 on the platform host, then callers whose address is not verified yet a 403 that says so. */
export function requireVerifiedEmail() {
  return createMiddleware<AppEnv>(async function requireVerifiedEmailMiddleware(c, next) {
    if (!c.var.tenant) throw wrongHost();
    await guard(c, next, (principal) => {
      if (!principal.emailVerified) {
        throw new ApiError('email_not_verified', {
          detail: 'Verify your email address first (POST /api/v1/auth/resend-verification sends a new link).',
        });
      }
    });
  });
}

/** Platform routes: 404 on an organization host, then only platform administrators. */
export function requirePlatformAdmin() {
  return createMiddleware<AppEnv>(async function requirePlatformAdminMiddleware(c, next) {
    if (c.var.tenant) throw wrongHost();
    await guard(c, next, (principal) => {
      if (principal.tenant !== PLATFORM_TENANT || principal.role !== 'platform_admin') {
        throw new ApiError('forbidden', { detail: 'Platform administrators only.' });
      }
    });
  });
}

/** How recent a sign-in (or re-authentication) must be for a sensitive operation (`requireRecentAuth()`). */
export const STEP_UP_MAX_AGE_SECONDS = 10 * 60;

/**
 * Step-up for sensitive operations (payment settings, webhook endpoints and secrets, roles and ownership, API keys,
 * MFA changes): the session's user must have proved who they are within STEP_UP_MAX_AGE_SECONDS (the token's
 * `auth_time`), else 401 `reauthentication_required` with the RFC 9470 challenge
 * (`error="insufficient_user_authentication"`, `max_age`), which tells the client to re-authenticate
 * (POST /api/v1/auth/reauthenticate) and retry with the new access token. An API key is not a sign-in and is
 * checked by its own scopes instead. Place it after the route's guard (`requirePermission(...)`, `requireAuth()`).
 */
export function requireRecentAuth(maxAgeSeconds = STEP_UP_MAX_AGE_SECONDS) {
  return createMiddleware<AppEnv>(async function requireRecentAuthMiddleware(c, next) {
    const principal = principalOf(c);
    // An impersonator never proved to be the member: no step-up, whatever the token's `auth_time`.
    if (principal.impersonation) throw impersonationRefused();
    if (principal.credential === 'session' && Math.floor(Date.now() / 1000) - principal.authTime > maxAgeSeconds) {
      throw new ApiError('reauthentication_required', {
        detail:
          `This operation needs a sign-in within the last ${maxAgeSeconds / 60} minutes: re-authenticate ` +
          '(POST /api/v1/auth/reauthenticate) and retry with the new access token.',
        headers: {
          'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age=${maxAgeSeconds}`,
        },
      });
    }
    await next();
  });
}

function impersonationRefused(): ApiError {
  return new ApiError('impersonation_forbidden', {
    detail:
      "An impersonation token cannot use this endpoint: it is the member's own (credentials, MFA, passkeys, " +
      'sessions, data export) or needs a recent sign-in.',
  });
}

/**
 * The endpoints that are a person's own (self-service account, MFA, passkeys, sessions: `/auth/me`, logout, ...):
 * an API key gets 403, and so does an impersonation token (403 `impersonation_forbidden`: a support agent acting as
 * the member reads neither their factors, sessions or data export nor changes them), unless `impersonation` is
 * `'allowed'` (only `GET /api/v1/auth/me`: who the token acts as). Place it after the route's guard.
 */
export function requireSession(options: { impersonation?: 'allowed' } = {}) {
  return createMiddleware<AppEnv>(async function requireSessionMiddleware(c, next) {
    const principal = principalOf(c);
    if (principal.credential === 'api_key') {
      throw new ApiError('forbidden', {
        detail: "This endpoint is a signed-in person's own: API keys cannot call it.",
      });
    }
    if (principal.impersonation && options.impersonation !== 'allowed') throw impersonationRefused();
    await next();
  });
}

/**
 * Live-only operations, which move money or reach the outside world (refunds, manual payment confirmation, payment
 * settings, webhook test deliveries and redeliveries, emails to buyers and invitees): a `test` API key gets 403
 * `live_key_required`. Sessions and `live` keys pass. Place it after the route's guard.
 */
export function requireLiveKey() {
  return createMiddleware<AppEnv>(async function requireLiveKeyMiddleware(c, next) {
    assertLiveKey(principalOf(c));
    await next();
  });
}

/** `requireLiveKey()`'s check, for callers that are not routes (the GraphQL mutations of live-only operations). */
export function assertLiveKey(principal: Principal): void {
  if (principal.apiKey?.environment === 'test') {
    throw new ApiError('live_key_required', {
      detail: 'Test API keys cannot do this: it moves money or reaches the outside world. Use a live key.',
    });
  }
}
