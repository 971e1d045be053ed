import { BindingsSchema, type Bindings } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
import { createLogger } from '../lib/logger.ts';

// The middleware that reads them on every request is in ./request-bindings.ts (it loads this module, and the zod
// schema, on the first request instead of at the isolate's start-up).

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
