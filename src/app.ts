import { OpenAPIHono } from '@hono/zod-openapi';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors/api-error.ts';
import { routeMethods } from './lib/route-methods.ts';
import { notFound, onError, problemResponse, validationHook } from './errors/handler.ts';
import { authenticate } from './middleware/auth.ts';
import { bindings } from './middleware/bindings.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { planLimitHeaders } from './middleware/plan-limits.ts';
import { cors } from './middleware/cors.ts';
import { etag } from './middleware/etag.ts';
import { requestContext } from './middleware/request-context.ts';
import { securityHeaders } from './middleware/security-headers.ts';
import { tenant } from './middleware/tenant.ts';
import { wellFormedInput } from './middleware/well-formed-input.ts';
import { registerAuditLogsRoutes } from './routes/audit-logs/index.ts';
import { registerAuthRoutes } from './routes/auth/index.ts';
import { registerBookingsRoutes } from './routes/bookings/index.ts';
import { registerCapacityPoolsRoutes } from './routes/capacity-pools/index.ts';
import { registerCheckInsRoutes } from './routes/check-ins/index.ts';
import { registerPaymentsRoutes } from './routes/payments/index.ts';
import { registerRefundsRoutes } from './routes/refunds/index.ts';
import { registerEventsRoutes } from './routes/events/index.ts';
import { registerHealthRoutes } from './routes/health/index.ts';
import { registerMetaRoutes } from './routes/meta/index.ts';
import { registerOrganizationFeaturesRoutes } from './routes/organization-features/index.ts';
import { registerOrganizationsRoutes } from './routes/organizations/index.ts';
import { registerPublicRoutes } from './routes/public/index.ts';
import { registerRolesRoutes } from './routes/roles/index.ts';
import { registerTicketTypesRoutes } from './routes/ticket-types/index.ts';
import { registerUsersRoutes } from './routes/users/index.ts';
import { registerWebhooksRoutes } from './routes/webhooks/index.ts';

/**
 * The one request path (see docs/ARCHITECTURE.md): request id and logger, security headers, bindings, tenant from
 * the host, CORS, body limit, well-formed text (no NUL or lone surrogate in any path segment, query parameter or JSON
 * string), ETag and 304 on JSON reads, 405s, then the zod-validated routes, whose guards (requirePermission...) verify the bearer token and its
 * revocation once, only where a route needs a caller.
 * Errors from any step become problem+json in `onError`, and still pass back out through the security headers and the access log.
 */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use(requestContext());
  app.use(securityHeaders());
  app.use(bindings());
  app.use(tenant());
  app.use(cors({ methodsOf: routeMethods(() => app.routes) }));
  app.use(bodyLimit());
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

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'An access token from POST /api/v1/auth/login, /register or /refresh-token (ES256, 15 minutes), valid only on ' +
      'the host of the organization that issued it. Public keys: /.well-known/jwks.json. Tokens follow the JWT Best ' +
      'Current Practices (RFC8725): the algorithm is pinned (only ES256 is accepted; `none` and HMAC never are), ' +
      'the `kid` header must name a key of the JWKS, `typ` must be `at+jwt` (RFC 9068), and the issuer ' +
      '(`https://{ROOT_DOMAIN}`), the audience (`eventra-api`), `exp`, `iat` (at most 15 minutes old), `sub` and ' +
      '`jti` are all required and checked, as is the organization the token was issued for. On an organization host ' +
      "every authenticated request counts against the plan's rate limits: per caller, and organization-wide in the " +
      'staff budget or, for callers without any permission (customers), the separate customers budget (see GET ' +
      '/api/v1/organization/features); on the platform host against the administrator’s own limit. Responses carry ' +
      '`RateLimit` and `RateLimit-Policy` headers, and over a limit the answer is 429 `rate_limited` with ' +
      '`Retry-After`. When Redis cannot answer, authenticated requests are refused with 503 (the session revocation ' +
      'check fails closed); a failure of the rate limiter alone lets requests through (fail open).',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'stripeSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'Stripe-Signature',
    description:
      'Stripe\'s webhook signature (`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) made with the organization\'s ' +
      'endpoint signing secret (`whsec_...`, stored in the payment settings); checked in constant time over the raw ' +
      'body, at most 300 seconds old.',
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'bookingToken', {
    type: 'apiKey',
    in: 'header',
    name: 'Booking-Token',
    description:
      "The buyer's credential for one booking (`bk_` and 43 base64url characters, 256 random bits), returned once by " +
      'the checkout and stored only as a hash: it opens the booking view and the Stripe Checkout of that booking ' +
      'alone. Sent in a header, never in the URL (URLs end up in logs, histories and Referer headers).',
  });

  registerHealthRoutes(app);
  registerMetaRoutes(app);
  registerAuthRoutes(app);
  registerOrganizationsRoutes(app);
  registerOrganizationFeaturesRoutes(app);
  registerUsersRoutes(app);
  registerRolesRoutes(app);
  registerEventsRoutes(app);
  registerTicketTypesRoutes(app);
  registerCapacityPoolsRoutes(app);
  registerBookingsRoutes(app);
  registerRefundsRoutes(app);
  registerCheckInsRoutes(app);
  registerPaymentsRoutes(app);
  registerWebhooksRoutes(app);
  registerPublicRoutes(app);
  registerAuditLogsRoutes(app);

  app.notFound(notFound);
  app.onError(onError);
  return app;
}
