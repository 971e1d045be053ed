import { Hono } from 'hono';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors/api-error.ts';
import { routeMethods } from './lib/route-methods.ts';
import { notFound, onError, problemResponse } from './errors/handler.ts';
import { authenticate } from './middleware/authenticate.ts';
import { bindings } from './middleware/request-bindings.ts';
import { requestBodyLimit } from './middleware/body-limit.ts';
import { planLimitHeaders } from './middleware/limit-headers.ts';
import { cors } from './middleware/cors.ts';
import { etag } from './middleware/etag.ts';
import { requestContext, type WorkerName } from './middleware/request-context.ts';
import { scimErrors } from './middleware/scim-errors.ts';
import { securityHeaders } from './middleware/security-headers.ts';
import { readOnlyWrites, tenant } from './middleware/tenant.ts';
import { wellFormedInput } from './middleware/well-formed-input.ts';
import { SCIM_BASE_PATH } from './services/scim/resources.ts';
import { registerLazily, type RouteGroup } from './routes/lazy.ts';

/**
 * The one request path (see docs/ARCHITECTURE.md): request id and logger, security headers, bindings, tenant from
 * the host, CORS, writes refused while the organization is being moved, body limit, well-formed text (no NUL or lone surrogate in any path segment, query parameter or JSON
 * string), ETag and 304 on JSON reads, 405s, then the zod-validated routes, whose guards (requirePermission...) verify the bearer token and its
 * revocation once, only where a route needs a caller.
 * Errors from any step become problem+json in `onError`, and still pass back out through the security headers and the access log.
 * `groups` are the route groups the app serves: all of them in the API Worker (src/index.ts), the buyer's in the public
 * Worker (src/public.ts); `worker` names which of the two it is in the access log.
 */
export function createApp({ worker, groups }: { worker: WorkerName; groups: readonly RouteGroup[] }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(requestContext(worker));
  app.use(securityHeaders());
  // SCIM clients read SCIM errors (RFC 7644 3.12): every refusal on /scim/v2/, from any step below, is rewritten.
  app.use(`${SCIM_BASE_PATH}/*`, scimErrors());
  app.use(bindings());
  app.use(tenant());
  app.use(cors({ methodsOf: routeMethods(() => app.routes) }));
  app.use(readOnlyWrites());
  app.use(requestBodyLimit());
  app.use(wellFormedInput());
  app.use(authenticate());
  app.use(planLimitHeaders());
  app.use(etag());
  app.use(
    methodNotAllowed<AppEnv>({
      app,
      onMethodNotAllowed: (c, allowed) =>
        problemResponse(
          c,
          new ApiError('method_not_allowed', {
            detail: `Use ${allowed.join(', ')} on this resource.`,
            headers: { allow: allowed.join(', ') },
          }),
        ),
    }),
  );

  // Method and path of every route; each group's schemas, validators and handlers are built on its first request.
  for (const group of groups) registerLazily(app, group);

  app.notFound(notFound);
  app.onError(onError);
  return app;
}
