import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { ROUTE_GROUPS } from '../../src/routes/groups.ts';
import { RATE_LIMITED_BY } from '../../src/routes/meta/conventions.ts';
import { buildOpenApiDocument, createDocumentApp } from '../../src/routes/meta/openapi.ts';

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
  AUDIT_QUEUE: queue,
  EXPORT_QUEUE: queue,
  // The document never reaches an event's Durable Object.
  EVENT_LIVE: { idFromName: () => undefined },
  FILES: { put: () => undefined },
  // Nor a feature Worker (src/workers/).
  PDF_RENDERER: { render: () => undefined },
  SAML_XML: { verifyResponse: () => undefined },
  WEBAUTHN: { verifyAuthentication: () => undefined },
  FORMATS: { expandRule: () => undefined },
};

// The app the document describes: every route group loaded (a Worker loads them one by one, on demand).
const documentApp = await createDocumentApp();

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const response = await createApp({ worker: 'api', groups: ROUTE_GROUPS }).request(
      'http://localhost/api/v1/openapi.json',
      {},
      bindings,
    );
    expect(response.status).toBe(200);
    const document: unknown = await response.json();
    const validator = new Validator();
    const result = await validator.validate(document as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every operation with a summary, a tag and at least one response', async () => {
    const response = await createApp({ worker: 'api', groups: ROUTE_GROUPS }).request(
      'http://localhost/api/v1/openapi.json',
      {},
      bindings,
    );
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
    const response = await createApp({ worker: 'api', groups: ROUTE_GROUPS }).request(
      'http://localhost/api/v1/openapi.json',
      {},
      bindings,
    );
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
        // SCIM answers errors in its own format (RFC 7644 3.12), as SCIM clients expect.
        const errorType = path.startsWith('/scim/v2/') ? 'application/scim+json' : 'application/problem+json';
        for (const [status, response] of errors) {
          expect(response.content?.[errorType], `${name} ${status}`).toBeDefined();
        }
        // Every operation that authenticates can answer 401; every operation with a body can answer 400.
        if (operation.requestBody) expect(Object.keys(operation.responses), name).toContain('400');
        // (The Stripe webhook's signature scheme answers a bad signature with 400, as Stripe expects.)
        const bearerAuth = operation.security?.some((requirement) => 'bearerAuth' in requirement) ?? false;
        if (bearerAuth) expect(Object.keys(operation.responses), name).toContain('401');
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
    const response = await createApp({ worker: 'api', groups: ROUTE_GROUPS }).request(
      'http://localhost/api/v1/openapi.json',
      {},
      bindings,
    );
    const patterns = [...(await response.text()).matchAll(/"pattern":"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]);
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of patterns) expect(pattern, pattern).not.toMatch(/\/[gimsuy]+$/);
  });
});

describe('the OpenAPI document states the contract of every operation', () => {
  interface Header {
    $ref?: string;
    required?: boolean;
  }
  interface Operation {
    operationId?: string;
    tags?: string[];
    security?: Record<string, string[]>[];
    parameters?: { name?: string; in?: string }[];
    responses: Record<string, { headers?: Record<string, Header>; content?: Record<string, unknown> }>;
  }
  interface Document {
    info: { contact?: object; license?: object };
    tags?: { name: string; description?: string }[];
    servers: { url: string; description: string; 'x-internal'?: boolean; variables?: Record<string, unknown> }[];
    paths: Record<string, Record<string, Operation>>;
    components: { headers: Record<string, Header>; securitySchemes: Record<string, { description?: string }> };
  }

  function load(environment: 'local' | 'staging' | 'production' = 'local'): Document {
    const rootDomain = { local: 'localhost', staging: 'eventra-staging.app', production: 'eventra.app' }[environment];
    return buildOpenApiDocument(documentApp, environment, rootDomain) as unknown as Document;
  }

  function* operations(document: Document) {
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        yield { name: `${method.toUpperCase()} ${path}`, method, operation };
      }
    }
  }

  it('serves the document it builds (the conventions are applied to the served one)', async () => {
    const response = await createApp({ worker: 'api', groups: ROUTE_GROUPS }).request(
      'http://localhost/api/v1/openapi.json',
      {},
      bindings,
    );
    expect(await response.json()).toEqual(load());
  });

  it('gives every operation a unique operationId and only globally defined, described tags', () => {
    const document = load();
    const tags = new Set((document.tags ?? []).map((tag) => tag.name));
    for (const tag of document.tags ?? []) expect(tag.description, tag.name).toBeTruthy();
    const ids = new Set<string>();
    for (const { name, operation } of operations(document)) {
      expect(operation.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.has(operation.operationId ?? ''), `${name} duplicates ${operation.operationId}`).toBe(false);
      ids.add(operation.operationId ?? '');
      for (const tag of operation.tags ?? []) expect(tags, `${name} tag ${tag}`).toContain(tag);
      expect(Array.isArray(operation.security), `${name} states its security`).toBe(true);
    }
  });

  it('declares 500 everywhere, 429 where a limiter counts, 401 and 503 where a token is checked', () => {
    const document = load();
    for (const { name, operation } of operations(document)) {
      const statuses = Object.keys(operation.responses);
      expect(statuses, name).toContain('500');
      const authenticated = operation.security?.some((requirement) => 'bearerAuth' in requirement) ?? false;
      const limited = authenticated || (RATE_LIMITED_BY[operation.operationId ?? ''] ?? []).length > 0;
      if (authenticated) expect(statuses, name).toEqual(expect.arrayContaining(['401', '503']));
      if (limited) expect(statuses, name).toContain('429');
      else expect(statuses, name).not.toContain('429');
    }
  });

  it('declares the response headers of each status, all from components.headers', () => {
    const document = load();
    const names = (headers: Record<string, Header> | undefined) => Object.keys(headers ?? {});
    for (const { name, method, operation } of operations(document)) {
      const idempotent = (operation.parameters ?? []).some((parameter) => parameter.name === 'idempotency-key');
      const limited = Object.keys(operation.responses).includes('429');
      for (const [status, response] of Object.entries(operation.responses)) {
        const where = `${name} ${status}`;
        const headers = names(response.headers);
        expect(headers, where).toEqual(expect.arrayContaining(['X-Request-Id', 'Access-Control-Allow-Origin']));
        if (limited) expect(headers, where).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy']));
        else expect(headers, where).not.toContain('RateLimit');
        if (status === '429' || status === '503') expect(headers, where).toContain('Retry-After');
        if (status === '201') expect(headers, where).toContain('Location');
        if (idempotent && status.startsWith('2')) expect(headers, where).toContain('Idempotent-Replayed');
        if (status === '200' && method === 'get' && response.content?.['application/json']) {
          expect(headers, where).toContain('ETag');
          expect(Object.keys(operation.responses), name).toContain('304');
          expect(
            operation.parameters?.map((parameter) => parameter.name),
            name,
          ).toContain('If-None-Match');
        }
        for (const header of Object.values(response.headers ?? {})) {
          if (header.$ref) expect(document.components.headers[header.$ref.split('/').pop() ?? ''], where).toBeDefined();
        }
      }
    }
  });

  it('offers the deployment’s own servers first, with their environment and audience', () => {
    const local = load('local');
    expect(local.servers[0]).toMatchObject({ url: 'http://{tenant}.localhost:8787', 'x-internal': true });
    expect(local.servers[0]?.variables).toMatchObject({ tenant: { default: 'acme' } });
    const production = load('production');
    expect(production.servers.map((server) => server.url)).toEqual([
      'https://{tenant}.eventra.app',
      'https://eventra.app',
    ]);
    for (const server of [...local.servers, ...production.servers, ...load('staging').servers]) {
      expect(server.description).toMatch(/local|staging|production/i);
      expect(typeof server['x-internal'], server.url).toBe('boolean');
      expect(server.url).not.toMatch(/example\.com/);
    }
    expect(production.info.contact).toBeDefined();
    expect(production.info.license).toBeDefined();
    expect(production.components.securitySchemes.bearerAuth?.description).toContain('RFC8725');
  });
});
