import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { servicesFor } from '../lib/services.ts';
import { inTrace, traceId } from '../lib/trace.ts';
import type { readBindings as ReadBindings } from './bindings.ts';

// readBindings and the bindings schema (zod) are loaded by the first request, not at the isolate's start-up.
let readBindings: typeof ReadBindings | undefined;

/**
 * Validates the bindings at the entry of every request (cached per isolate) and exposes them as `c.var.bindings`,
 * so handlers never read untyped `c.env`; also sets `c.var.services`, the isolate's clients (built on first use).
 * Locally the rest of the request runs in its trace, which the clients put on every gateway call so the gateways
 * count round trips per request.
 *
 * @example
 * app.use(bindings());
 * app.get('/x', (c) => c.text(c.var.bindings.ROOT_DOMAIN));
 */
export function bindings() {
  return createMiddleware<AppEnv>(async function bindingsMiddleware(c, next) {
    readBindings ??= (await import('./bindings.ts')).readBindings;
    const validated = readBindings(c.env);
    c.set('bindings', validated);
    c.set('services', servicesFor(validated));
    if (validated.ENVIRONMENT !== 'local') return next();
    // The gateways' round-trip counters (local only) are keyed by the request's trace.
    return inTrace(traceId({ requestId: c.get('requestId'), correlationId: c.get('correlationId') }), next);
  });
}
