import { createMiddleware } from 'hono/factory';
import { BindingsSchema, type AppEnv, type Bindings } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import { traceId } from '../lib/client.ts';
import { createLogger } from '../lib/logger.ts';
import { servicesFor } from '../lib/services.ts';
import { inTrace } from '../lib/trace.ts';

// Validated bindings per env object, for the life of the isolate: the env object is stable across requests.
const validated = new WeakMap<object, Bindings>();

/** Parses the Worker's env once; a misconfigured deployment fails loudly in the logs and with an opaque 500. */
export function readBindings(env: Record<string, unknown>): Bindings {
  const cached = validated.get(env);
  if (cached) return cached;
  const parsed = BindingsSchema.safeParse(env);
  if (!parsed.success) {
    createLogger().error('invalid Worker bindings', {
      issues: parsed.error.issues.map((issue) => ({ binding: issue.path.join('.'), message: issue.message })),
    });
    throw new ApiError('misconfigured', { detail: 'The service is misconfigured.' });
  }
  validated.set(env, parsed.data);
  return parsed.data;
}

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
    const validated = readBindings(c.env);
    c.set('bindings', validated);
    c.set('services', servicesFor(validated));
    if (validated.ENVIRONMENT !== 'local') return next();
    return inTrace(traceId({ requestId: c.get('requestId'), correlationId: c.get('correlationId') }), next);
  });
}
