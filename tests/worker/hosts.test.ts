import { describe, expect, it } from 'vitest';
import { bearer, createMember, createTenant, problem, request, tokenFor } from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';

/**
 * The operations served on the platform host (alone or on both kinds of host). Every other operation of the OpenAPI
 * document is an organization route, so a new route is checked here without anyone listing it.
 */
const SERVED_ON_PLATFORM = new Set([
  'GET /health',
  'GET /health/ready',
  'GET /docs',
  'GET /.well-known/jwks.json',
  'GET /api/v1/openapi.json',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/logout',
  // The redirect URI of the platform's social login clients (it hands the browser to the organization's host).
  'GET /api/v1/sso/callback',
  'POST /api/v1/organizations',
  'GET /api/v1/organizations',
  'PUT /api/v1/organizations/{id}',
  'PUT /api/v1/organizations/{id}/plan-overrides',
  'POST /api/v1/organizations/{id}/schedule-deletion',
  'POST /api/v1/organizations/{id}/cancel-deletion',
  'GET /api/v1/organizations/{id}',
  'GET /api/v1/platform/users',
  'GET /api/v1/platform/users/{id}',
  'POST /api/v1/platform/users/{id}/revoke-sessions',
  'GET /api/v1/platform/users/{id}/export',
  'POST /api/v1/platform/users/{id}/erase',
  'GET /api/v1/platform/audit-logs',
  'GET /api/v1/platform/feature-flags',
  'POST /api/v1/platform/feature-flags',
  'GET /api/v1/platform/feature-flags/{key}',
  'PATCH /api/v1/platform/feature-flags/{key}',
  'DELETE /api/v1/platform/feature-flags/{key}',
  'POST /api/v1/platform/impersonations',
  'GET /api/v1/platform/impersonations/{id}',
  'DELETE /api/v1/platform/impersonations/{id}',
  'POST /api/v1/billing/webhooks',
  'GET /api/v1/platform/metrics',
  'GET /api/v1/platform/dead-letters',
  'POST /api/v1/platform/dead-letters/{id}/resolve',
]);

/** Platform-only operations: on an organization host they must not exist either. */
const PLATFORM_ONLY = [
  'GET /api/v1/organizations',
  'PUT /api/v1/organizations/{id}/plan-overrides',
  'POST /api/v1/organizations/{id}/schedule-deletion',
  'POST /api/v1/organizations/{id}/cancel-deletion',
  'GET /api/v1/organizations/{id}',
  'GET /api/v1/platform/users',
  'GET /api/v1/platform/users/{id}',
  'POST /api/v1/platform/users/{id}/revoke-sessions',
  'GET /api/v1/platform/users/{id}/export',
  'POST /api/v1/platform/users/{id}/erase',
  'GET /api/v1/platform/audit-logs',
  'GET /api/v1/platform/feature-flags',
  'POST /api/v1/platform/feature-flags',
  'GET /api/v1/platform/feature-flags/{key}',
  'PATCH /api/v1/platform/feature-flags/{key}',
  'DELETE /api/v1/platform/feature-flags/{key}',
  'POST /api/v1/platform/impersonations',
  'GET /api/v1/platform/impersonations/{id}',
  'DELETE /api/v1/platform/impersonations/{id}',
  'POST /api/v1/billing/webhooks',
  'GET /api/v1/platform/metrics',
  'GET /api/v1/platform/dead-letters',
  'POST /api/v1/platform/dead-letters/{id}/resolve',
];

interface OpenApiDocument {
  paths: Record<string, Record<string, unknown>>;
}

async function operations(): Promise<string[]> {
  const response = await request(`${PLATFORM}/api/v1/openapi.json`);
  expect(response.status).toBe(200);
  const document: OpenApiDocument = await response.json();
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods)
      .filter((method) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/** A request for an operation with every path parameter filled by a fresh UUID and an empty JSON body. */
function call(base: string, operation: string, token?: string): Promise<Response> {
  const [method = 'GET', template = '/'] = operation.split(' ');
  const path = template.replaceAll(/\{[^}]+\}/g, () => crypto.randomUUID());
  const headers = token === undefined ? { 'content-type': 'application/json' } : bearer(token);
  return request(`${base}${path}`, {
    method,
    headers,
    ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
  });
}

/**
 * `operation who: status code` unless the answer is a 404 `not_found` problem (on /scim/v2/, where every answer is a
 * SCIM error, a SCIM error of status 404).
 */
async function notFoundOrWhy(response: Response, operation: string, who: string): Promise<string | null> {
  const type = response.headers.get('content-type');
  let code = '';
  if (type === 'application/problem+json') code = (await problem(response)).code;
  else if (type === 'application/scim+json' && operation.includes(' /scim/v2/')) {
    const error = await response.json<{ status?: string }>();
    code = error.status === '404' ? 'not_found' : `scim ${String(error.status)}`;
  }
  return response.status === 404 && code === 'not_found'
    ? null
    : `${operation} ${who}: ${String(response.status)} ${code}`;
}

describe('routes on the wrong kind of host', () => {
  // Some 470 requests one after another (the Worker's test context refuses them concurrently): a ceiling for a
  // loaded 2-core machine running the whole suite, not a speed goal.
  it('answers 404 for every organization route on the platform host, anonymously and to a platform administrator', async () => {
    const all = await operations();
    for (const listed of SERVED_ON_PLATFORM) expect(all, 'a stale entry').toContain(listed);
    const tenantRoutes = all.filter((operation) => !SERVED_ON_PLATFORM.has(operation));
    expect(tenantRoutes.length).toBeGreaterThan(40);
    const admin = await createPlatformAdmin();
    const wrong: (string | null)[] = [];
    for (const operation of tenantRoutes) {
      wrong.push(await notFoundOrWhy(await call(PLATFORM, operation), operation, 'anonymously'));
      wrong.push(await notFoundOrWhy(await call(PLATFORM, operation, admin.token), operation, 'as platform admin'));
    }
    expect(wrong.filter((why) => why !== null)).toEqual([]);
  }, 90_000);

  it('answers 404 for platform-only routes on an organization host, anonymously and to its owner', async () => {
    const tenant = await createTenant();
    const owner = await tokenFor(tenant, await createMember(tenant, 'owner'));
    const base = tenant.url('');
    const wrong: (string | null)[] = [];
    for (const operation of PLATFORM_ONLY) {
      wrong.push(await notFoundOrWhy(await call(base, operation), operation, 'anonymously'));
      wrong.push(await notFoundOrWhy(await call(base, operation, owner), operation, 'to the owner'));
    }
    expect(wrong.filter((why) => why !== null)).toEqual([]);
  });

  it('still serves the routes of both hosts: the platform administrator signs out on the platform host', async () => {
    const admin = await createPlatformAdmin();
    const response = await call(PLATFORM, 'POST /api/v1/auth/logout', admin.token);
    expect(response.status).toBe(204);
  });
});
