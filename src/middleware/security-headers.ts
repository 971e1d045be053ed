import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Security headers on every response, errors included (it runs after the error handler has produced the response).
 * API responses get a locked-down CSP; an HTML page that sets its own CSP (the /docs reference) keeps it, and
 * `frame-ancestors 'none'` is enforced there too. Responses are `no-store` unless the handler chose a cache policy,
 * and always when the request carried credentials; a cacheable one varies on `Authorization`.
 *
 * @example
 * app.use(securityHeaders());
 */
export function securityHeaders() {
  return createMiddleware<AppEnv>(async function securityHeadersMiddleware(c, next) {
    await next();
    const headers = c.res.headers;
    headers.set('strict-transport-security', 'max-age=63072000; includeSubDomains; preload');
    headers.set('x-content-type-options', 'nosniff');
    headers.set('x-frame-options', 'DENY');
    headers.set('referrer-policy', 'no-referrer');
    headers.set('cross-origin-opener-policy', 'same-origin');
    headers.set('cross-origin-resource-policy', 'same-site');
    headers.set('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
    const csp = headers.get('content-security-policy');
    if (!csp) headers.set('content-security-policy', API_CSP);
    else if (!csp.includes('frame-ancestors')) headers.set('content-security-policy', `${csp}; frame-ancestors 'none'`);
    const authenticated = c.req.header('authorization') !== undefined || c.req.header('cookie') !== undefined;
    if (authenticated || !headers.has('cache-control')) headers.set('cache-control', 'no-store');
    // A cacheable answer (a public read) was made for a caller without credentials: no cache may hand it to one with.
    else if (!/\bno-store\b/.test(headers.get('cache-control') ?? '')) headers.append('vary', 'Authorization');
    headers.delete('x-powered-by');
    headers.delete('server');
  });
}
