import type { LimitRule } from '../../lib/rate-limit.ts';
import { PLATFORM_PRINCIPAL_LIMIT } from '../../middleware/plan-limits.ts';
import { META_READ_LIMIT, STRIPE_BILLING_WEBHOOK_LIMIT, STRIPE_WEBHOOK_LIMIT } from '../../middleware/request-limit.ts';
import { errorResponses, PROBLEM_CONTENT_TYPE } from '../../errors/problem.ts';
import { AUTH_LIMITS, REFRESH_CLIENT_LIMIT } from '../../services/auth/limits.ts';
import { PUBLIC_BOOKING_LIMIT, PUBLIC_READ_LIMIT } from '../../services/catalogue/limits.ts';
import { DISCOUNT_FAILURE_LIMIT } from '../../services/discounts/limits.ts';
import { SIGNUP_LIMITS } from '../../services/organizations/signup.ts';
import { INVITATION_LIMIT } from '../../services/users/invite.ts';
import { EXPORT_DOWNLOAD_LIMIT, EXPORT_LIMIT } from '../../services/exports/service.ts';
import { SCIM_BASE_PATH, SCIM_MEDIA_TYPE } from '../../services/scim/resources.ts';
import { IDEMPOTENCY_HEADER } from '../../lib/idempotency.ts';

/**
 * The response conventions every operation shares, applied once where the document is built (routes/meta/openapi.ts)
 * instead of being repeated in 70 route files. Each one is derived from a fact the document or the server states:
 *
 * - every response: `X-Request-Id` (requestContext), `X-Correlation-Id` (when the caller sent a well-formed
 *   X-Request-Id) and `Access-Control-Allow-Origin` (when the Origin is on the allow-list; middleware/cors.ts);
 * - an operation counted by a rate limit (`security` => the plan's limits, or on the platform host the administrator's;
 *   otherwise the limiters listed in RATE_LIMITED_BY): `RateLimit` / `RateLimit-Policy` on all its responses, a 429
 *   with `Retry-After`;
 * - `security` => 401 (with `WWW-Authenticate`) and 503 (the session revocation check fails closed when Redis is down);
 * - status 201 => `Location`; GET with a 200 JSON (or iCalendar) response => `ETag` on it, an `If-None-Match`
 *   parameter and a 304;
 * - an `Idempotency-Key` header parameter => `Idempotent-Replayed` on its 2xx, `Retry-After` on its 409 (a request
 *   with the key still running);
 * - every 503 => `Retry-After`; every operation => 400 (middleware/well-formed-input.ts refuses a NUL, a lone
 *   surrogate or broken percent-encoding in any path segment or query parameter of any request) and 500 (the last
 *   tier of onError);
 * - no `security` => `security: []` (public, stated explicitly).
 *
 * tests/worker/openapi-headers.test.ts sends real requests and checks the headers of each answer against this.
 */

/** The limiters that count an operation without a bearer token, by operationId (besides its `security`). */
export const RATE_LIMITED_BY: Readonly<Record<string, readonly LimitRule[]>> = {
  getOpenApiDocument: [META_READ_LIMIT],
  getApiReference: [META_READ_LIMIT],
  getJwks: [META_READ_LIMIT],
  getReadiness: [META_READ_LIMIT],
  register: [AUTH_LIMITS.registerClient, AUTH_LIMITS.loginAccount],
  login: [AUTH_LIMITS.loginClient, AUTH_LIMITS.loginAccount],
  passkeySignInOptions: [AUTH_LIMITS.loginClient],
  startSsoSignIn: [AUTH_LIMITS.loginClient],
  ssoCallback: [AUTH_LIMITS.loginClient],
  exchangeSsoCode: [AUTH_LIMITS.loginClient],
  samlAssertionConsumerService: [AUTH_LIMITS.loginClient],
  samlServiceProviderMetadata: [META_READ_LIMIT],
  discoverSso: [AUTH_LIMITS.loginClient],
  signInWithPasskey: [AUTH_LIMITS.loginClient],
  mfaPasskeyOptions: [AUTH_LIMITS.loginClient],
  verifyMfaWithPasskey: [AUTH_LIMITS.mfaClient, AUTH_LIMITS.mfaAccount, AUTH_LIMITS.mfaAccountDay],
  refreshToken: [REFRESH_CLIENT_LIMIT],
  verifyEmail: [AUTH_LIMITS.verifyClient],
  resendVerification: [AUTH_LIMITS.resendAccount],
  forgotPassword: [AUTH_LIMITS.forgotClient, AUTH_LIMITS.forgotAccount],
  // Redeeming an invitation as an existing account checks its password (services/auth/account.ts).
  resetPassword: [AUTH_LIMITS.resetClient, AUTH_LIMITS.loginAccount],
  createOrganization: [SIGNUP_LIMITS.perIp, AUTH_LIMITS.loginAccount],
  verifyMfa: [AUTH_LIMITS.mfaClient, AUTH_LIMITS.mfaAccount, AUTH_LIMITS.mfaAccountDay],
  enrolTotpForSignIn: [AUTH_LIMITS.mfaClient],
  confirmTotpForSignIn: [AUTH_LIMITS.mfaClient, AUTH_LIMITS.mfaAccount, AUTH_LIMITS.mfaAccountDay],
  inviteMember: [INVITATION_LIMIT],
  createOrganizationExport: [EXPORT_LIMIT],
  downloadOrganizationExportFile: [EXPORT_DOWNLOAD_LIMIT],
  listPublicEvents: [PUBLIC_READ_LIMIT],
  getPublicEvent: [PUBLIC_READ_LIMIT],
  getPublicBooking: [PUBLIC_READ_LIMIT],
  getPublicCalendar: [PUBLIC_READ_LIMIT],
  getPublicEventCalendar: [PUBLIC_READ_LIMIT],
  getPublicBookingCalendar: [PUBLIC_READ_LIMIT],
  getPublicBookingInvoice: [PUBLIC_READ_LIMIT],
  getPublicRefundCreditNote: [PUBLIC_READ_LIMIT],
  // Images (issue #16 part 4): the public reads go through publicRead; a staff read of a cover is a bearer request.
  getOrganizationLogo: [PUBLIC_READ_LIMIT],
  getEventCover: [PUBLIC_READ_LIMIT],
  streamPublicAvailability: [PUBLIC_READ_LIMIT],
  createPublicBooking: [PUBLIC_BOOKING_LIMIT, DISCOUNT_FAILURE_LIMIT],
  quotePublicOrder: [PUBLIC_READ_LIMIT, DISCOUNT_FAILURE_LIMIT],
  startPublicCheckout: [PUBLIC_BOOKING_LIMIT],
  transferPublicTicket: [PUBLIC_BOOKING_LIMIT],
  cancelPublicBooking: [PUBLIC_BOOKING_LIMIT],
  updatePublicBookingAttendee: [PUBLIC_BOOKING_LIMIT],
  joinPublicWaitlist: [PUBLIC_BOOKING_LIMIT],
  claimPublicWaitlistOffer: [PUBLIC_BOOKING_LIMIT],
  declinePublicWaitlistOffer: [PUBLIC_BOOKING_LIMIT],
  receiveStripeWebhook: [STRIPE_WEBHOOK_LIMIT],
  receiveBillingWebhook: [STRIPE_BILLING_WEBHOOK_LIMIT],
};

/** The policies of the plan's limits of an authenticated request (middleware/plan-limits.ts). */
const PLAN_POLICIES = [
  'api-organization or api-customers: the organization-wide budget of staff or of customers, per minute (plan)',
  'api-principal: the caller’s own budget, per minute (plan)',
  `${PLATFORM_PRINCIPAL_LIMIT.name}: ${PLATFORM_PRINCIPAL_LIMIT.limit} per ${PLATFORM_PRINCIPAL_LIMIT.window} (platform host)`,
];

const REQUEST_ID = 'X-Request-Id';
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

/** Reusable response headers (`components.headers`), named as sent. */
export const RESPONSE_HEADERS = {
  [REQUEST_ID]: {
    description:
      "The server's id of this request (a UUID, never the caller's): also the problem's `requestId`, in logs and " +
      'in audit entries. Quote it when asking for support.',
    required: true,
    schema: { type: 'string', format: 'uuid', maxLength: 36, example: 'b3f1c2de-8a7b-4c55-9d1e-2f3a4b5c6d7e' },
  },
  'X-Correlation-Id': {
    description:
      'The caller’s own `X-Request-Id`, echoed when it sent a well-formed one (`[A-Za-z0-9._-]{8,128}`); logged and ' +
      'audited as the correlation id beside the server’s request id.',
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{8,128}$', maxLength: 128, example: 'client-trace-0001' },
  },
  'Access-Control-Allow-Origin': {
    description:
      'Sent when the request’s `Origin` is on the allow-list (the organization’s `settings.allowedOrigins`, on the ' +
      'platform host `PLATFORM_CORS_ORIGINS`): that origin, never `*`. Other origins get no CORS headers.',
    schema: { type: 'string', format: 'uri', maxLength: 2048, example: 'https://tickets.acme.com' },
  },
  RateLimit: {
    description:
      'The state of each limit that counted this request (IETF draft-ietf-httpapi-ratelimit-headers): ' +
      '`"<policy>";r=<remaining>;t=<seconds to reset>`, comma-separated. Present when a limiter counted the request ' +
      'and Redis answered (limiters that fail open send none while Redis is down); absent on answers given before ' +
      'any limiter ran (an unknown host’s 404, a missing or invalid token’s 401, a 413 from `Content-Length`).',
    schema: { type: 'string', maxLength: 1024, example: '"api-organization";r=1187;t=42, "api-principal";r=118;t=42' },
  },
  'RateLimit-Policy': {
    description:
      'The limits that counted this request: `"<policy>";q=<quota>;w=<window seconds>`, comma-separated, in the ' +
      'order of `RateLimit`.',
    schema: { type: 'string', maxLength: 1024, example: '"api-organization";q=1200;w=60, "api-principal";q=120;w=60' },
  },
  'Retry-After': {
    description: 'Seconds to wait before retrying (RFC 9110).',
    required: true,
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86400, example: 5 },
  },
  Location: {
    description: 'The absolute URL of the created resource (the request’s scheme, host and port).',
    required: true,
    schema: {
      type: 'string',
      format: 'uri',
      maxLength: 2048,
      example: 'https://acme.eventra.app/api/v1/events/7d1c5f4e-3b2a-4c1d-9e8f-0a1b2c3d4e5f',
    },
  },
  ETag: {
    description:
      'A validator of this representation: send it back in `If-None-Match` and an unchanged resource answers 304 ' +
      'without a body.',
    required: true,
    schema: { type: 'string', maxLength: 256, example: '"3f2b9c0e1d"' },
  },
  'Idempotent-Replayed': {
    description:
      '`true` when this is the stored response of an earlier request with the same `Idempotency-Key` (nothing ' +
      'changed again). Absent on a first answer.',
    schema: { type: 'string', enum: ['true'], example: 'true' },
  },
  'WWW-Authenticate': {
    description: 'The bearer challenge of a request without a valid access token (RFC 6750).',
    schema: { type: 'string', maxLength: 512, example: 'Bearer error="invalid_token"' },
  },
} as const;

const IF_NONE_MATCH = {
  name: 'If-None-Match',
  in: 'header',
  required: false,
  description: 'The `ETag` of a representation the client holds; if it is still current the answer is 304.',
  schema: { type: 'string', maxLength: 1024, example: '"3f2b9c0e1d"' },
} as const;

type Json = Record<string, unknown>;
interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, unknown>;
}
interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: ({ name?: string; in?: string } | { $ref: string })[];
  responses: Record<string, Response>;
  [extension: `x-${string}`]: unknown;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

function describeRule(rule: LimitRule): string {
  return `${rule.name}: ${rule.limit} per ${rule.window}`;
}

/** Whether the operation authenticates with a bearer token (an empty `security` list means public). */
function isAuthenticated(operation: Operation): boolean {
  return (operation.security ?? []).some((requirement) => 'bearerAuth' in requirement);
}

function hasHeaderParameter(operation: Operation, name: string): boolean {
  return (operation.parameters ?? []).some(
    (parameter) => 'in' in parameter && parameter.in === 'header' && parameter.name?.toLowerCase() === name,
  );
}

/** SCIM's routes answer errors as SCIM errors (src/middleware/scim-errors.ts), the others as problems. */
function errorContent(path: string) {
  return path.startsWith(`${SCIM_BASE_PATH}/`)
    ? { [SCIM_MEDIA_TYPE]: { schema: { $ref: '#/components/schemas/ScimError' } } }
    : { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } };
}

/** Adds the error responses the operation can answer but does not list yet (the route's own stay untouched). */
function addMissing(
  responses: Record<string, Response>,
  statuses: readonly (400 | 401 | 429 | 500 | 503)[],
  path: string,
): void {
  for (const status of statuses) {
    if (String(status) in responses) continue;
    responses[status] = { description: errorResponses(status)[status].description, content: errorContent(path) };
  }
}

/** Applies the conventions above to a generated document, in place, and returns it. */
export function applyConventions<T extends Json>(document: T): T {
  const components = ((document as Json).components ??= {}) as Json;
  components.headers = { ...(components.headers as Json | undefined), ...structuredClone(RESPONSE_HEADERS) };
  const paths = (document as Json).paths as Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;

  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      // No security requirement means public: said explicitly, so no tool assumes a global default.
      operation.security ??= [];
      const authenticated = isAuthenticated(operation);
      const limits = RATE_LIMITED_BY[operation.operationId ?? ''] ?? [];
      const limited = authenticated || limits.length > 0;
      const idempotent = hasHeaderParameter(operation, IDEMPOTENCY_HEADER);
      const responses = operation.responses;

      if (limited) {
        operation['x-rate-limits'] = [...limits.map(describeRule), ...(authenticated ? PLAN_POLICIES : [])];
      }
      addMissing(
        responses,
        [400, ...(authenticated ? ([401, 503] as const) : []), ...(limited ? [429 as const] : []), 500],
        path,
      );

      const success = responses['200'];
      const conditional =
        method === 'get' &&
        (success?.content?.['application/json'] !== undefined || success?.content?.['text/calendar'] !== undefined);
      if (conditional) {
        operation.parameters = [...(operation.parameters ?? []), structuredClone(IF_NONE_MATCH)];
        responses['304'] ??= {
          description: 'Not modified: the `If-None-Match` validator is still current. No body.',
        };
      }

      for (const [status, response] of Object.entries(responses)) {
        const code = Number(status);
        const headers: Record<string, unknown> = {
          [REQUEST_ID]: header(REQUEST_ID),
          'X-Correlation-Id': header('X-Correlation-Id'),
          'Access-Control-Allow-Origin': header('Access-Control-Allow-Origin'),
        };
        if (limited) {
          headers.RateLimit = header('RateLimit');
          headers['RateLimit-Policy'] = header('RateLimit-Policy');
        }
        if (code === 429 || code === 503) headers['Retry-After'] = header('Retry-After');
        if (code === 409 && idempotent) {
          headers['Retry-After'] = {
            ...RESPONSE_HEADERS['Retry-After'],
            required: false,
            description: 'Sent (`1`) when a request with the same `Idempotency-Key` is still running.',
          };
        }
        if (code === 401 && authenticated) headers['WWW-Authenticate'] = header('WWW-Authenticate');
        if (code === 201) headers.Location = header('Location');
        if ((code === 200 && conditional) || code === 304) headers.ETag = header('ETag');
        if (idempotent && code >= 200 && code < 300) headers['Idempotent-Replayed'] = header('Idempotent-Replayed');
        response.headers = { ...headers, ...response.headers };
      }
    }
  }
  return document;
}
