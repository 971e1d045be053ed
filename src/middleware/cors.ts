import type { Context } from 'hono';
import { cors as honoCors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';

/** The request headers a browser client may send (beyond the CORS-safelisted ones). Booking-Token: the buyer's
 * credential for GET /api/v1/public/bookings/{id}, sent by the organization's own app. */
export const ALLOWED_HEADERS = [
  'Authorization',
  'Booking-Token',
  'Content-Type',
  'Idempotency-Key',
  'If-None-Match',
  'X-Request-Id',
];
/** The response headers a browser client may read (beyond the CORS-safelisted ones). */
export const EXPOSED_HEADERS = [
  'X-Request-Id',
  'X-Correlation-Id',
  'RateLimit',
  'RateLimit-Policy',
  'Retry-After',
  'Location',
  'ETag',
  'Idempotent-Replayed',
  'Content-Disposition',
];

function allowedOrigins(c: Context<AppEnv>): readonly string[] {
  const tenant = c.get('tenant');
  if (tenant) {
    // Settings are stored JSON: anything but a list of strings allows nothing (a string must never substring-match).
    const configured: unknown = tenant.settings.allowedOrigins;
    return Array.isArray(configured) ? configured.filter((origin): origin is string => typeof origin === 'string') : [];
  }
  return (c.var.bindings.PLATFORM_CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin.length > 0);
}

/**
 * CORS from an allow-list: the tenant's `settings.allowedOrigins` on a tenant host, PLATFORM_CORS_ORIGINS on the
 * platform host. An origin that is not listed gets no CORS headers (the browser blocks it); never `*` with
 * credentials — the API authenticates with bearer tokens, so no credentials mode is offered at all. A preflight
 * lists only the methods the requested path has (`methodsOf`, from the app's routes): none for an unknown path.
 *
 * @example
 * app.use(tenant(), cors({ methodsOf: routeMethods(() => app.routes) }));
 */
export function cors(options: { methodsOf: (path: string) => string[] }) {
  // Built once: the allow-list depends on the request (its tenant), so the origin callback reads it per request, and
  // only when the request names an origin (most API calls do not).
  const handler = honoCors({
    origin: (origin, c: Context<AppEnv>) => (origin !== '' && allowedOrigins(c).includes(origin) ? origin : null),
    allowMethods: (_origin, context) => options.methodsOf(context.req.path),
    allowHeaders: ALLOWED_HEADERS,
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  return createMiddleware<AppEnv>(async function corsMiddleware(c, next) {
    return handler(c, next);
  });
}
