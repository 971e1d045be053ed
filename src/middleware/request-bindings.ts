import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { traceId } from '../lib/trace.ts';
import { createServices } from '../lib/services.ts';
import type { readBindings as ReadBindings } from './bindings.ts';

// readBindings and the bindings schema (zod) are loaded by the first request, not at the isolate's start-up.
let readBindings: typeof ReadBindings | undefined;

/**
 * Validates the bindings at the entry of every request (cached per isolate) and exposes them as `c.var.bindings`,
 * so handlers never read untyped `c.env`; also sets `c.var.services`, the lazily built per-request clients.
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
    // The gateways' round-trip counters (local only) are keyed by the request's trace.
    c.set(
      'services',
      createServices(validated, traceId({ requestId: c.get('requestId'), correlationId: c.get('correlationId') })),
    );
    await next();
  });
}
