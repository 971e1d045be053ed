import { z } from '@hono/zod-openapi';
import type { Logger } from './lib/logger.ts';
import type { Services } from './lib/services.ts';
import type { Principal } from './services/auth/tokens.ts';
import type { Tenant } from './services/tenants/types.ts';

/**
 * The env of each environment of wrangler.toml, as `wrangler types` generates it into worker-configuration.d.ts
 * (`npm run types` regenerates it; `npm run lint` fails while it is stale): the vars, the queue producers and the
 * secrets each environment lists in `[env.<env>.secrets] required`. The Worker runs in exactly one of them.
 */
export type WorkerEnv = Cloudflare.LocalEnv | Cloudflare.StagingEnv | Cloudflare.ProductionEnv;

type KeysOfAny<U> = U extends unknown ? keyof U : never;
type ValueIn<U, K extends PropertyKey> = U extends Partial<Record<K, infer V>> ? V : never;
/** One object over the environments: a binding every environment declares is required, any other is optional. */
type AnyOf<U> = { [K in Extract<keyof U, PropertyKey>]: ValueIn<U, K> } & {
  [K in Exclude<KeysOfAny<U>, keyof U>]?: ValueIn<U, K>;
};

/** What wrangler.toml declares, whichever the environment. */
export type DeclaredBindings = AnyOf<WorkerEnv>;

/** A binding object wrangler.toml declares, checked at the entry for the method the code calls. */
function binding<K extends keyof DeclaredBindings>(method: string) {
  return z.custom<NonNullable<DeclaredBindings[K]>>(
    (value) =>
      typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[method] === 'function',
    { message: `must be a binding with ${method}()` },
  );
}

const DATABASE_URL_PATTERN = /^postgres(ql)?:\/\/[^\s]+$/;

const DatabaseUrlsSchema = z.record(
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/)
    .refine((key) => key !== 'shared'),
  z.string().regex(DATABASE_URL_PATTERN),
);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const SocialCredentialSchema = z.strictObject({
  clientId: z.string().min(1).max(500),
  clientSecret: z.string().min(1).max(1000),
});

/** SOCIAL_LOGIN_CREDENTIALS: the platform's own OAuth client at each social provider (any may be missing). */
export const SocialCredentialsSchema = z.strictObject({
  google: SocialCredentialSchema.optional(),
  microsoft: SocialCredentialSchema.optional(),
  linkedin: SocialCredentialSchema.optional(),
});

/** SOCIAL_ISSUERS (local environment only): the tests' and dev's stand-in issuer of each social provider. */
export const SocialIssuersSchema = z.strictObject({
  google: z.url().optional(),
  microsoft: z.url().optional(),
  linkedin: z.url().optional(),
});

function jsonOf<T extends z.ZodType>(schema: T, message: string) {
  return z.string().transform((text, context): z.output<T> => {
    const parsed = schema.safeParse(parseJson(text));
    if (parsed.success) return parsed.data;
    context.addIssue({ code: 'custom', message });
    return z.NEVER;
  });
}

const BillingPricesSchema = z.strictObject({
  pro: z
    .string()
    .regex(/^price_[A-Za-z0-9]+$/)
    .optional(),
  enterprise: z
    .string()
    .regex(/^price_[A-Za-z0-9]+$/)
    .optional(),
});

/** STRIPE_BILLING_PRICES read: the Stripe Price id of each paid plan; null when it is not such a JSON object. */
export function parseBillingPrices(value: string): z.infer<typeof BillingPricesSchema> | null {
  try {
    const parsed = BillingPricesSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * Runtime validation of the bindings, once per isolate at the entry (see `readBindings`): the formats of the vars and
 * secrets, and the presence of the binding objects. Secrets come from `wrangler secret put` / `wrangler deploy
 * --secrets-file` in staging and production and from the dev runner or the test setup locally.
 */
export const BindingsSchema = z.object({
  ENVIRONMENT: z.enum(['local', 'staging', 'production']),
  ROOT_DOMAIN: z
    .string()
    .min(1)
    .regex(/^[a-z0-9.-]+$/, 'must be a lowercase host name'),
  DATABASE_URL: z.string().regex(DATABASE_URL_PATTERN, 'must be a postgres:// connection string'),
  /**
   * The dedicated databases (sharding, docs/OPERATIONS.md "Sharding: moving an organization"): a JSON object of
   * database key -> postgres:// connection string, e.g. `{"dedicated-1":"postgres://eventra_app:...@ep-.../neondb"}`.
   * The tenant directory names each organization's key; `shared` (DATABASE_URL, also the control database) is
   * implicit and may not be listed. Secret; unset while every organization is on the shared database.
   */
  DATABASE_URLS: z
    .string()
    .transform((text, context) => {
      const parsed = DatabaseUrlsSchema.safeParse(parseJson(text));
      if (parsed.success) return parsed.data;
      context.addIssue({
        code: 'custom',
        message: 'must be a JSON object of database keys ([a-z0-9-], not "shared") to postgres:// connection strings',
      });
      return z.NEVER;
    })
    .optional(),
  /** Local gateway only: where @neondatabase/serverless sends its SQL-over-HTTP requests. Unset in production. */
  NEON_FETCH_ENDPOINT: z.url().optional(),
  UPSTASH_REDIS_REST_URL: z.url(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1),
  EMAIL_QUEUE: binding<'EMAIL_QUEUE'>('send'),
  WEBHOOK_QUEUE: binding<'WEBHOOK_QUEUE'>('send'),
  /** Records written after a request without its round trip: the sign-in's audit row and last-login time. */
  AUDIT_QUEUE: binding<'AUDIT_QUEUE'>('send'),
  /** Organization exports (src/services/exports/job.ts): each message is one bounded step of an export job. */
  EXPORT_QUEUE: binding<'EXPORT_QUEUE'>('send'),
  /** One Durable Object per event: the hub of its live streams (src/services/realtime/event-live.ts). */
  EVENT_LIVE: binding<'EVENT_LIVE'>('idFromName'),
  /** R2 bucket of generated files: invoice and credit-note PDFs (src/services/invoices/service.ts), organization exports. */
  FILES: binding<'FILES'>('put'),
  /**
   * The invoice PDF renderer (src/workers/pdf.ts), a Worker of its own behind a service binding: `render(invoice)` over
   * RPC (typed from the entrypoint by `npm run types`, which reads both Workers' configs).
   */
  PDF_RENDERER: binding<'PDF_RENDERER'>('render'),
  /** The XML side of SAML sign-in (src/workers/saml.ts), a Worker of its own behind a service binding, over RPC. */
  SAML_XML: binding<'SAML_XML'>('verifyResponse'),
  /** Passkey ceremonies' library side (src/workers/webauthn.ts), a Worker of its own behind a service binding. */
  WEBAUTHN: binding<'WEBAUTHN'>('verifyAuthentication'),
  /** iCalendar files, RRULE expansion and image checks (src/workers/formats.ts), a Worker of its own, over RPC. */
  FORMATS: binding<'FORMATS'>('expandRule'),
  /**
   * wrangler.toml `[assets]`: the static assets (build/assets, made by dev/docs-assets.ts). Only /docs reads it;
   * optional so the document can be built in Node without it (dev/openapi.ts).
   */
  ASSETS: binding<'ASSETS'>('fetch').optional(),
  /** JSON array of private P-256 JWKs; the first signs access tokens (see src/services/auth/keys.ts). Secret. */
  JWT_SIGNING_KEYS: z.string().min(2),
  /**
   * 32 random bytes, base64url: the AES-256-GCM key that encrypts organizations' payment provider secrets at rest
   * (src/lib/crypto.ts), and the root of API keys' checksums (src/services/auth/api-key-credentials.ts: rotating it
   * invalidates every API key). Secret.
   */
  DATA_ENCRYPTION_KEY: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes, base64url without padding'),
  /**
   * Local environment only: where Stripe API calls go (a local fake in tests). Elsewhere the Worker always calls
   * https://api.stripe.com and this must be unset.
   */
  STRIPE_API_BASE: z.url().optional(),
  /**
   * Custom domains (src/services/domains, Cloudflare for SaaS): an API token with `SSL and Certificates: Edit` on the
   * zone that holds the custom hostnames, that zone's id, and the host name customers point their CNAME at (the
   * zone's fallback origin or a name under it, e.g. `customers.eventra.app`). Secrets; unset, the custom domain
   * routes that reach Cloudflare answer 503.
   */
  CLOUDFLARE_API_TOKEN: z.string().min(20).optional(),
  CLOUDFLARE_ZONE_ID: z
    .string()
    .regex(/^[0-9a-f]{32}$/, 'must be a Cloudflare zone id')
    .optional(),
  CUSTOM_DOMAIN_TARGET: z
    .string()
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case host name')
    .optional(),
  /**
   * Local environment only: where Cloudflare API calls (default https://api.cloudflare.com/client/v4) and DNS over
   * HTTPS queries (default https://cloudflare-dns.com/dns-query) go; the tests' fakes. Set in staging or production,
   * the routes that use them refuse to run (500 misconfigured): they must be unset there.
   */
  CLOUDFLARE_API_BASE: z.url().optional(),
  DOH_URL: z.url().optional(),
  /**
   * Local environment only (src/services/auth/passwords.ts `scryptPolicy`): the scrypt cost `N,r,p` the test suite hashes
   * passwords with instead of the policy's 16384,8,5. Set in staging or production, password hashing refuses to run
   * (500 misconfigured): it must be unset there.
   */
  LOCAL_PASSWORD_HASH_COST: z
    .string()
    .regex(/^\d{1,8},\d{1,3},\d{1,3}$/, 'must be N,r,p')
    .refine((value) => {
      const [N, r, p] = value.split(',').map(Number) as [number, number, number];
      return N >= 2 && (N & (N - 1)) === 0 && r >= 1 && p >= 1;
    }, 'N must be a power of two of at least 2, r and p at least 1')
    .optional(),
  /**
   * Social login (src/services/sso/social.ts) with the platform's own OAuth clients, for organizations that do not
   * bring theirs: a JSON object `{"google":{"clientId":"...","clientSecret":"..."},"microsoft":{...},"linkedin":{...}}`
   * (any provider may be left out). Each client's redirect URI is `https://<ROOT_DOMAIN>/api/v1/sso/callback`.
   * Secret; unset, social connections need the organization's own client.
   */
  SOCIAL_LOGIN_CREDENTIALS: jsonOf(
    SocialCredentialsSchema,
    'must be a JSON object of google/microsoft/linkedin -> {"clientId","clientSecret"}',
  ).optional(),
  /**
   * Local environment only: the issuer that stands in for each social provider (the tests' and dev's OpenID
   * Provider); Microsoft's may hold `{tenant}`. Set in staging or production, social sign-in refuses to run (500
   * misconfigured): it must be unset there.
   */
  SOCIAL_ISSUERS: jsonOf(
    SocialIssuersSchema,
    'must be a JSON object of google/microsoft/linkedin -> issuer URL',
  ).optional(),
  /**
   * Plan billing (src/services/billing) on the PLATFORM's Stripe account, never an organization's: its secret key
   * (`sk_`/`rk_`, needs Customers, Checkout Sessions, Billing Portal Sessions and Subscriptions) and the signing
   * secret of its webhook endpoint `https://<ROOT_DOMAIN>/api/v1/billing/webhooks`. Secrets; unset, plan billing is
   * off (its routes answer 503, the webhook 404).
   */
  STRIPE_BILLING_SECRET_KEY: z
    .string()
    .regex(/^(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+$/, 'must be a Stripe secret or restricted key')
    .optional(),
  STRIPE_BILLING_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be a Stripe webhook signing secret')
    .optional(),
  /** JSON object: the recurring Stripe Price of each paid plan, e.g. `{"pro":"price_...","enterprise":"price_..."}`. */
  STRIPE_BILLING_PRICES: z
    .string()
    .refine((value) => parseBillingPrices(value) !== null, 'must be a JSON object of pro/enterprise -> price_... ids')
    .optional(),
  /** The dunning schedule: downgrade to starter after this many failed payments (default 3) ... */
  BILLING_DUNNING_MAX_FAILURES: z.coerce.number().int().min(1).max(20).optional(),
  /** ... or this many days after the first failed payment (default 14), whichever comes first. */
  BILLING_DUNNING_GRACE_DAYS: z.coerce.number().int().min(1).max(90).optional(),
  /**
   * Resend API key and sender address for transactional email: secrets, required in staging and production
   * (wrangler.toml), unused locally (mail is captured).
   */
  EMAIL_API_KEY: z.string().min(1).optional(),
  EMAIL_FROM: z.email().optional(),
  /**
   * Seconds between a live stream's heartbeats, each of which also re-checks a staff stream's session (default 15).
   * The test run sets 1, so a revoked session's stream ends within a second there.
   */
  LIVE_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(60).optional(),
  /** debug | info | warn | error (default info). The test run uses warn to keep its output readable. */
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  /** Comma-separated origins allowed to call the platform host from a browser (the tenant hosts use their settings). */
  PLATFORM_CORS_ORIGINS: z.string().optional(),
  /**
   * `off` skips the local check of response bodies against their schemas (src/routes/response.ts), as staging and
   * production always do: `npm run bench` sets it so the local stack measures the production code path.
   */
  RESPONSE_CHECKS: z.enum(['on', 'off']).optional(),
  /**
   * GraphQL introspection (and field suggestions in errors): `on` by default in local and staging, `off` by default
   * in production, where `GRAPHQL_INTROSPECTION = "on"` turns it on.
   */
  GRAPHQL_INTROSPECTION: z.enum(['on', 'off']).optional(),
});

type Validated = z.infer<typeof BindingsSchema>;

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;

/**
 * The validated bindings: the generated types of wrangler.toml's bindings, narrowed by the schema (ENVIRONMENT is one
 * of three names), optional where the schema accepts one missing (a setting only some environments declare, or one
 * wrangler.toml does not declare at all: LOG_LEVEL, STRIPE_API_BASE). `readBindings` returns the schema's output as
 * this type, so the compiler rejects a schema that drops or mistypes a binding every environment declares.
 */
export type Bindings = Omit<DeclaredBindings, OptionalKeys<Validated>> & Validated;

type Declared = Extract<keyof DeclaredBindings, string>;
type Undeclared = Extract<Exclude<RequiredKeys<Validated>, RequiredKeys<DeclaredBindings>>, string>;
type Unvalidated = Exclude<Declared, keyof Validated>;
type Mistyped = {
  [K in keyof Validated & Declared]-?: NonNullable<Validated[K]> extends NonNullable<DeclaredBindings[K]> ? never : K;
}[keyof Validated & Declared];
type Expect<T extends true> = T;
type None<Problem extends string> = [Problem] extends [never] ? true : Problem;
/**
 * Compile-time check that the schema and wrangler.toml agree: a binding the schema requires is declared by every
 * environment (so a secret the Worker cannot run without is one `wrangler deploy` refuses to deploy without), every
 * declared binding is validated (the parse drops what it does not know), and their types fit. A failure names the
 * binding and the problem (`Type '"NAME is ..."' does not satisfy the constraint 'true'`); after changing wrangler.toml,
 * run `npm run types`.
 */
export type BindingsMatchWranglerToml = [
  Expect<None<`${Undeclared} is required by BindingsSchema but not declared by every environment of wrangler.toml`>>,
  Expect<None<`${Unvalidated} is declared in wrangler.toml but not validated by BindingsSchema`>>,
  Expect<None<`${Mistyped} has another type in BindingsSchema than in wrangler.toml`>>,
];

export type Variables = {
  /** Made by the server for every request (src/middleware/request-context.ts). */
  requestId: string;
  /** The caller's well-formed `X-Request-Id`, kept beside the server's id; null when none was sent. */
  correlationId: string | null;
  logger: Logger;
  bindings: Bindings;
  services: Services;
  /** The organization served on this host, or null on the platform host (the bare ROOT_DOMAIN). */
  tenant: Tenant | null;
  /** The verified caller, or null for an anonymous request (set by the `authenticate` middleware). */
  principal: Principal | null;
};

export type AppEnv = { Bindings: Record<string, unknown>; Variables: Variables };
