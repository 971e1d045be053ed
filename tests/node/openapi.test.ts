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
  DATA_ENCRYPTION_KEY: 'A'.repeat(43),
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

describe('the OpenAPI document describes errors and examples', () => {
  interface Operation {
    summary?: string;
    description?: string;
    requestBody?: { content: Record<string, { schema?: Schema; example?: unknown }> };
    security?: Record<string, string[]>[];
    responses: Record<string, { content?: Record<string, { schema?: Schema; example?: unknown }> }>;
  }
  interface Schema {
    $ref?: string;
    example?: unknown;
    examples?: unknown[];
    properties?: Record<string, Schema>;
  }

  async function load() {
    const response = await createApp().request('http://localhost/api/v1/openapi.json', {}, bindings);
    return response.json<{
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, Schema> };
    }>();
  }

  function resolve(schema: Schema | undefined, components: Record<string, Schema>): Schema | undefined {
    if (schema?.$ref === undefined) return schema;
    return components[schema.$ref.replace('#/components/schemas/', '')];
  }

  function hasExample(schema: Schema | undefined, components: Record<string, Schema>): boolean {
    const resolved = resolve(schema, components);
    if (!resolved) return false;
    if (resolved.example !== undefined || resolved.examples !== undefined) return true;
    const properties = Object.values(resolved.properties ?? {});
    return (
      properties.length > 0 &&
      properties.every((property) => hasExample(property, components) || property.$ref !== undefined)
    );
  }

  it('gives every operation a description and documents its error responses as problems', async () => {
    const document = await load();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${path}`;
        expect(operation.description, name).toBeTruthy();
        const errors = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
        for (const [status, response] of errors) {
          expect(response.content?.['application/problem+json'], `${name} ${status}`).toBeDefined();
        }
        // Every operation that authenticates can answer 401; every operation with a body can answer 400.
        if (operation.requestBody) expect(Object.keys(operation.responses), name).toContain('400');
        if (operation.security?.length) expect(Object.keys(operation.responses), name).toContain('401');
      }
    }
  });

  it('gives every request body an example for each field', async () => {
    const document = await load();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const json = operation.requestBody?.content['application/json'];
        if (!json) continue;
        expect(
          json.example !== undefined || hasExample(json.schema, document.components.schemas),
          `${method} ${path}`,
        ).toBe(true);
      }
    }
  });
});

describe('the OpenAPI document publishes patterns clients can use', () => {
  it('has no regex pattern carrying JavaScript flags (a stray /u would be read literally)', async () => {
    const response = await createApp().request('http://localhost/api/v1/openapi.json', {}, bindings);
    const patterns = [...(await response.text()).matchAll(/"pattern":"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]);
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of patterns) expect(pattern, pattern).not.toMatch(/\/[gimsuy]+$/);
  });
});
