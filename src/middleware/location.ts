import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { requestOrigin } from '../lib/origin.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The absolute URL of `path` on the origin of this request (see `requestOrigin`): the value of a `Location`. */
export function locationUrl(c: { req: { url: string }; var: AppEnv['Variables'] }, path: string): string {
  return new URL(path, requestOrigin(c.req.url, c.var.bindings)).toString();
}

/**
 * Route middleware of a creating POST: puts `Location` on its 201 (or the 202 of an accepted job), the absolute URL (request scheme, host and port)
 * of what was created. `{id}` in the path is the `id` of the JSON response body. It reads the response rather than
 * the handler's variables so that an Idempotency-Key replay (answered by `idempotent()` without running the
 * handler) carries the same Location as the first response: put it BEFORE `idempotent()`. A handler that sets its
 * own Location (another host) keeps it. Cost: one JSON parse of the created resource.
 *
 * @example
 * middleware: [requirePermission('events:write'), location('/api/v1/events/{id}'), idempotent()] as const
 */
export function location(path: `/${string}`) {
  return createMiddleware<AppEnv>(async function locationMiddleware(c, next) {
    await next();
    if ((c.res.status !== 201 && c.res.status !== 202) || c.res.headers.has('location')) return;
    let resolved = path as string;
    if (path.includes('{id}')) {
      const body: unknown = await c.res
        .clone()
        .json()
        .catch(() => null);
      const id = typeof body === 'object' && body !== null && 'id' in body ? body.id : undefined;
      if (typeof id !== 'string' || !UUID.test(id)) {
        c.var.logger.error('a 201 without an id for its Location', { path });
        return;
      }
      resolved = path.replace('{id}', id);
    }
    c.header('location', locationUrl(c, resolved));
  });
}
