import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv, Bindings } from '../../env.ts';
import { validationHook } from '../../errors/handler.ts';
import { ROUTE_GROUPS } from '../groups.ts';
import { applyConventions } from './conventions.ts';

export const OPENAPI_PATH = '/api/v1/openapi.json';

/** The production platform's root domain (wrangler.toml, env.production), offered by every document's servers. */
export const PRODUCTION_ROOT_DOMAIN = 'eventra.app';
/** The port of `wrangler dev` (dev/run.ts), part of every local URL. */
export const LOCAL_PORT = 8787;

export const route = createRoute({
  method: 'get',
  path: OPENAPI_PATH,
  operationId: 'getOpenApiDocument',
  tags: ['Meta'],
  summary: 'OpenAPI document',
  description: 'The OpenAPI 3.1 description of this API, generated from the route definitions.',
  responses: {
    200: {
      description: 'The OpenAPI 3.1 document.',
      content: { 'application/json': { schema: z.record(z.string(), z.unknown()).openapi('OpenAPIDocument') } },
    },
  },
});

/** The tags of the document, in the order the reference lists them. */
export const TAGS = [
  { name: 'Health', description: 'Liveness and readiness probes for load balancers and monitors.' },
  { name: 'Meta', description: 'This document, the interactive reference and the public signing keys (JWKS).' },
  {
    name: 'Authentication',
    description: 'Sign-up, sign-in, token refresh, sign-out, email verification and password reset.',
  },
  {
    name: 'Passkeys',
    description:
      'Passkeys (WebAuthn): register, list, rename and remove them; sign in with one (passwordless), complete an MFA ' +
      'sign-in with one, or re-authenticate with one.',
  },
  { name: 'Organizations', description: 'Organization sign-up, the current organization, plans and usage.' },
  { name: 'Platform', description: 'Platform administration on the platform host: accounts across organizations.' },
  { name: 'Users', description: 'Members of the organization: invitations, roles and removal.' },
  { name: 'Roles', description: 'Built-in and custom roles and the permission catalogue.' },
  { name: 'Events', description: 'Events and their lifecycle (draft, published, cancelled).' },
  { name: 'Ticket types', description: 'What an event sells: prices, quantities, sales windows.' },
  { name: 'Capacity pools', description: 'Seats shared by several ticket types of one event.' },
  // Recurring events (issue #18 part 5).
  { name: 'Event series', description: 'Recurring events: a template and an RRULE, its dates materialized as events.' },
  { name: 'Questions', description: "An event's attendee questions and the answers to them." },
  { name: 'Discount codes', description: "An event's discount codes: percent or fixed, limits, validity." },
  { name: 'Bookings', description: 'Staff views of bookings: list, read, cancel, confirm, refund.' },
  { name: 'Check-ins', description: 'Scanning tickets at the door.' },
  { name: 'Attendees', description: "An event's tickets and their check-in state: the door list." },
  // Issue #16 part 3.
  { name: 'Imports', description: 'Importing events and ticket types from CSV or JSON: dry run, then apply.' },
  { name: 'Payments', description: 'Stripe settings and the Stripe webhook.' },
  {
    name: 'Billing',
    description: "The organization's plan subscription through the platform's Stripe Billing, and its webhook.",
  },
  // Issue #18 part 4.
  { name: 'Invoices', description: 'Invoice settings and invoice PDFs (numbering, tax, credit notes).' },
  // Issue #16 part 4.
  { name: 'Images', description: 'The organization logo and event cover images, uploaded raw and kept in R2.' },
  { name: 'Webhooks', description: 'Outgoing webhook endpoints (Standard Webhooks) and their deliveries.' },
  { name: 'Public', description: 'The public catalogue and checkout for buyers, without an account.' },
  {
    name: 'Calendars',
    description:
      "iCalendar (RFC 5545) files: a public event, the organization's public events (a feed to subscribe to) and a " +
      "buyer's booking (with its token in a header).",
  },
  {
    name: 'Custom domains',
    description:
      "The organization's own host names (Cloudflare for SaaS): add, create the DNS records shown, verify, remove.",
  },
  { name: 'API keys', description: 'Keys for integrations: scoped, live or test, shown once, revocable at once.' },
  {
    name: 'Single sign-on',
    description:
      'SSO connections per organization (OpenID Connect, SAML 2.0, Google, Microsoft, LinkedIn): JIT membership, ' +
      'group -> role mapping, email domains.',
  },
  {
    name: 'SCIM',
    description:
      "SCIM 2.0 for the organization's identity provider (Okta, Entra ID): members as Users, roles as Groups.",
  },
  { name: 'Audit log', description: 'Who changed what, with export.' },
  {
    name: 'Exports',
    description: 'Everything an organization owns as JSON or CSV, made in the background, downloaded by signed links.',
  },
  // Issue #16 part 1.
  {
    name: 'Impersonations',
    description: "Platform support's time-limited, read-only impersonations of the organization's members.",
  },
  { name: 'Live', description: 'Server-Sent Events: seats left, check-in counts and new bookings as they change.' },
  {
    name: 'GraphQL',
    description:
      'The same data and writes as one GraphQL endpoint; the schema (SDL) is at [/docs/schema.graphql](/docs/schema.graphql).',
  },
];

interface Server {
  url: string;
  description: string;
  'x-internal': boolean;
  [extension: `x-${string}`]: unknown;
  variables?: Record<string, { default: string; description: string }>;
}

const tenantVariable = {
  tenant: { default: 'acme', description: 'The organization slug (a verified custom domain serves the same API).' },
};

function hostsOf(environment: string, scheme: string, rootDomain: string, port: string, internal: boolean): Server[] {
  return [
    {
      url: `${scheme}://{tenant}.${rootDomain}${port}`,
      description: `${environment}: an organization (tenant) host`,
      'x-internal': internal,
      variables: tenantVariable,
    },
    {
      url: `${scheme}://${rootDomain}${port}`,
      description: `${environment}: the platform host`,
      'x-internal': internal,
    },
  ];
}

/**
 * The servers a document offers: its own deployment's hosts first (the /docs page's server selector starts there),
 * then production's. Local and staging hosts are internal (developers, CI); production's are the public API.
 */
export function serversFor(environment: Bindings['ENVIRONMENT'], rootDomain: string): Server[] {
  const production = hostsOf('Production', 'https', PRODUCTION_ROOT_DOMAIN, '', false);
  if (environment === 'local') {
    return [...hostsOf('Local development', 'http', rootDomain, `:${LOCAL_PORT}`, true), ...production];
  }
  if (environment === 'staging') return [...hostsOf('Staging', 'https', rootDomain, '', true), ...production];
  return rootDomain === PRODUCTION_ROOT_DOMAIN ? production : hostsOf('Production', 'https', rootDomain, '', false);
}

/**
 * The app the document describes: the security schemes, then every route group registered in the order the Worker
 * registers them (src/routes/groups.ts). Built only for the document (GET /api/v1/openapi.json, dev/openapi.ts): it
 * loads every group, which a Worker otherwise builds one at a time as requests need them.
 */
export async function createDocumentApp(): Promise<OpenAPIHono<AppEnv>> {
  const registers = await Promise.all(ROUTE_GROUPS.map((group) => group.load()));
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT access token or evk_ API key',
    description:
      'Either an access token (a JWT, below) or an API key (`evk_live_...` / `evk_test_...`, from POST ' +
      "/api/v1/api-keys): every route that takes a token takes a key, except a person's own endpoints (sign-out, " +
      '/auth/me, account, MFA, passkeys: 403). A key holds the permissions it was created with, is valid only on ' +
      "its organization's host, counts against its own rate limit (the plan's per-caller rate), is audited as " +
      'actor type `api_key`, and a `test` key is refused with 403 `live_key_required` by live-only operations. An ' +
      'unknown, revoked or expired key answers 401. ' +
      'An access token comes from POST /api/v1/auth/login, /register or /refresh-token (ES256, 15 minutes), valid only on ' +
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
  for (const register of registers) register(app);
  return app;
}

/** The document of `app` as a deployment serves it: the generated operations, then the shared conventions. */
export function buildOpenApiDocument(
  app: OpenAPIHono<AppEnv>,
  environment: Bindings['ENVIRONMENT'],
  rootDomain: string,
): Record<string, unknown> {
  const document = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Eventra API',
      version: '1.0.0',
      description:
        'White-label, multi-tenant event management. Each organization is served on its own host ' +
        `(\`{slug}.${rootDomain}\` or a verified custom domain); platform endpoints live on \`${rootDomain}\`. ` +
        'Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code` and the `requestId`.',
      contact: { name: 'Eventra', url: `https://${PRODUCTION_ROOT_DOMAIN}` },
      // OpenAPI 3.1's SPDX `identifier` (the generator's types know only 3.0's `url`): not an open-source licence.
      license: { name: 'Proprietary', identifier: 'LicenseRef-Eventra-Proprietary' } as { name: string },
    },
    servers: serversFor(environment, rootDomain),
    tags: TAGS,
  });
  return applyConventions(document as unknown as Record<string, unknown>);
}

// The document depends only on the routes and the deployment, so it is built once per isolate and root domain, on
// its first request (a failed build is retried by the next one).
const documents = new Map<string, Promise<Record<string, unknown>>>();

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { ENVIRONMENT, ROOT_DOMAIN } = c.var.bindings;
    let document = documents.get(ROOT_DOMAIN);
    if (!document) {
      document = createDocumentApp().then((documentApp) => buildOpenApiDocument(documentApp, ENVIRONMENT, ROOT_DOMAIN));
      documents.set(ROOT_DOMAIN, document);
      document.catch(() => documents.delete(ROOT_DOMAIN));
    }
    c.header('cache-control', 'public, max-age=300');
    return c.json(await document, 200);
  });
}
