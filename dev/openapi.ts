/**
 * Type-checked with the Worker sources (tsconfig.json), whose app it imports.
 *
 * Builds the OpenAPI document the Worker serves at /api/v1/openapi.json, built by the same app in Node (the
 * platform host is requested, so no database or Redis is touched). Used by `npm run lint:openapi` (redocly and
 * Spectral) and by `npm run sdk:generate`.
 *
 *   node dev/write-openapi.ts [out.json]    # prints it (stdout without an argument)
 */
import { createApp } from '../src/app.ts';

const queue = { send: () => Promise.resolve(), sendBatch: () => Promise.resolve() };

/** The document as the local Worker (ROOT_DOMAIN=localhost) serves it. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const bindings = {
    ENVIRONMENT: 'local',
    ROOT_DOMAIN: 'localhost',
    LOG_LEVEL: 'error',
    DATABASE_URL: 'postgres://user:password@localhost/eventra',
    UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
    UPSTASH_REDIS_REST_TOKEN: 'unused',
    JWT_SIGNING_KEYS: '[]',
    DATA_ENCRYPTION_KEY: 'A'.repeat(43),
    EMAIL_QUEUE: queue,
    WEBHOOK_QUEUE: queue,
  };
  const response = await createApp().request('http://localhost/api/v1/openapi.json', {}, bindings);
  if (response.status !== 200) throw new Error(`the document answered ${response.status}`);
  return response.json();
}
