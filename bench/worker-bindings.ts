/**
 * What the start-up benchmarks (bench/bundle.ts, bench/split-startup.ts) bind to the API Worker in a bare Miniflare:
 * the vars and secrets BindingsSchema (src/env.ts) requires, with fake values (GET /health does no I/O; the API
 * route's database and Redis calls fail at once on a closed local port, so nothing leaves the machine), and local
 * stand-ins of its queues, Durable Object and R2 bucket.
 */
export const FAKE_VARS = {
  ENVIRONMENT: 'production',
  ROOT_DOMAIN: 'eventra.app',
  DATABASE_URL: 'postgres://user:password@127.0.0.1:9/eventra',
  UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9',
  UPSTASH_REDIS_REST_TOKEN: 'unused',
  JWT_SIGNING_KEYS: '[]',
  DATA_ENCRYPTION_KEY: 'A'.repeat(43),
  LOG_LEVEL: 'warn',
};

export const RESOURCE_BINDINGS = {
  queueProducers: {
    EMAIL_QUEUE: 'eventra-email',
    WEBHOOK_QUEUE: 'eventra-webhooks',
    AUDIT_QUEUE: 'eventra-audit',
    EXPORT_QUEUE: 'eventra-exports',
  },
  durableObjects: { EVENT_LIVE: 'EventLive' },
  r2Buckets: { FILES: 'eventra-files' },
};
