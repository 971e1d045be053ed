import { z } from '@hono/zod-openapi';
import type { Logger } from './lib/logger.ts';
import type { Services } from './lib/services.ts';
import type { Principal } from './services/auth/tokens.ts';
import type { Tenant } from './services/tenants/types.ts';

/**
 * The Worker's bindings, validated once per isolate at the entry (see `readBindings`).
 * Secrets (DATABASE_URL, UPSTASH_REDIS_REST_TOKEN) come from `wrangler secret put` in staging and production and from
 * the dev runner or the test setup locally.
 */
const queueBinding = z.custom<Queue>(
  (value) => typeof value === 'object' && value !== null && typeof (value as { send?: unknown }).send === 'function',
  { message: 'must be a Cloudflare Queue producer binding' },
);

/** A service-style binding with `fetch` (the static assets binding). */
const fetcherBinding = z.custom<Fetcher>(
  (value) => typeof value === 'object' && value !== null && typeof (value as { fetch?: unknown }).fetch === 'function',
  { message: 'must be a Fetcher binding' },
);

export const BindingsSchema = z.object({
  ENVIRONMENT: z.enum(['local', 'staging', 'production']),
  ROOT_DOMAIN: z
    .string()
    .min(1)
    .regex(/^[a-z0-9.-]+$/, 'must be a lowercase host name'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/[^\s]+$/, 'must be a postgres:// connection string'),
  /** Local gateway only: where @neondatabase/serverless sends its SQL-over-HTTP requests. Unset in production. */
  NEON_FETCH_ENDPOINT: z.url().optional(),
  UPSTASH_REDIS_REST_URL: z.url(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1),
  EMAIL_QUEUE: queueBinding,
  WEBHOOK_QUEUE: queueBinding,
  /**
   * wrangler.toml `[assets]`: the static assets (build/assets, made by dev/docs-assets.ts). Only /docs reads it;
   * optional so the document can be built in Node without it (dev/openapi.ts).
   */
  ASSETS: fetcherBinding.optional(),
  /** JSON array of private P-256 JWKs; the first signs access tokens (see src/services/auth/keys.ts). Secret. */
  JWT_SIGNING_KEYS: z.string().min(2),
  /**
   * 32 random bytes, base64url: the AES-256-GCM key that encrypts organizations' payment provider secrets at rest
   * (src/lib/crypto.ts). Secret.
   */
  DATA_ENCRYPTION_KEY: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes, base64url without padding'),
  /**
   * Local environment only: where Stripe API calls go (a local fake in tests). Elsewhere the Worker always calls
   * https://api.stripe.com and this must be unset.
   */
  STRIPE_API_BASE: z.url().optional(),
  /** Resend API key and sender address for transactional email (unused locally: mail is captured). Secrets. */
  EMAIL_API_KEY: z.string().min(1).optional(),
  EMAIL_FROM: z.email().optional(),
  /** debug | info | warn | error (default info). The test run uses warn to keep its output readable. */
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  /** Comma-separated origins allowed to call the platform host from a browser (the tenant hosts use their settings). */
  PLATFORM_CORS_ORIGINS: z.string().optional(),
});

export type Bindings = z.infer<typeof BindingsSchema>;

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
