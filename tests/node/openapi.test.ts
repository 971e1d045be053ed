import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';

// The validator compiles JSON Schemas with code generation, which workerd forbids, so the document is built by the
// same app in Node. Only the platform host is requested: no database or Redis is touched.
const queue = { send: () => Promise.resolve(), sendBatch: () => Promise.resolve() };
const bindings = {
  ENVIRONMENT: 'local',
  ROOT_DOMAIN: 'localhost',
  DATABASE_URL: 'postgres://user:password@localhost/eventra',
  UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
  UPSTASH_REDIS_REST_TOKEN: 'unused',
  JWT_SIGNING_KEYS: '[]',
  EMAIL_QUEUE: queue,
  WEBHOOK_QUEUE: queue,
};

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const response = await createApp().request('http://localhost/api/v1/openapi.json', {}, bindings);
    expect(response.status).toBe(200);
    const document: unknown = await response.json();
    const validator = new Validator();
    const result = await validator.validate(document as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every operation with a summary, a tag and at least one response', async () => {
    const response = await createApp().request('http://localhost/api/v1/openapi.json', {}, bindings);
    const document = await response.json<{
      paths: Record<string, Record<string, { summary?: string; tags?: string[]; responses?: object }>>;
    }>();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(operation.summary, `${method} ${path}`).toBeTruthy();
        expect(operation.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        expect(Object.keys(operation.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
  });
});
