import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { MAX_PAGE_LENGTH } from '../../src/routes/meta/docs.ts';
import {
  createMember,
  createTenant,
  newRequestId,
  problem,
  request,
  roundTrips,
  TEST_PASSWORD,
} from '../support/harness.ts';
import { waitForAudits } from '../support/auth.ts';

const PLATFORM = 'http://localhost';

/** wrangler.toml's static assets (build/assets), as the Worker sees them. */
const assets = (): Fetcher => (env as unknown as { ASSETS: Fetcher }).ASSETS;

function expectSecurityHeaders(response: Response): void {
  expect(response.headers.get('strict-transport-security')).toMatch(/^max-age=\d+; includeSubDomains/);
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  expect(response.headers.get('x-request-id')).toBeTruthy();
}

describe('problem responses', () => {
  it('answers an unknown path with a 404 problem carrying the request id', async () => {
    const response = await request(`${PLATFORM}/api/v1/nothing-here`);
    expect(response.status).toBe(404);
    const body = await problem(response);
    expect(body).toMatchObject({
      type: 'https://eventra.app/problems/not-found',
      title: 'Not found',
      status: 404,
      code: 'not_found',
    });
    expect(body.requestId).toBe(response.headers.get('x-request-id'));
    expectSecurityHeaders(response);
  });

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const response = await request(`${PLATFORM}/health/ready`, { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('GET');
    expect((await problem(response)).code).toBe('method_not_allowed');
    expectSecurityHeaders(response);
  });

  it('refuses a body over the limit with 413 before any handler reads it', async () => {
    const response = await request(`${PLATFORM}/health`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 10) }),
    });
    expect(response.status).toBe(413);
    expect((await problem(response)).code).toBe('payload_too_large');
    expectSecurityHeaders(response);
  });

  it('cuts a field error message beyond its documented 1000 characters', async () => {
    const tenant = await createTenant();
    const unknownKeys = Object.fromEntries(Array.from({ length: 100 }, (_, index) => [`unknown_field_${index}`, 1]));
    const longMessage = await request(tenant.url('/api/v1/auth/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'someone@example.com', password: 'x', name: 'Someone', ...unknownKeys }),
    });
    expect(longMessage.status).toBe(400);
    const [error] = (await problem(longMessage)).errors ?? [];
    expect(error?.message).toHaveLength(1000);
    expect(error?.message.endsWith('…')).toBe(true);
    expect(error?.message).toContain('unknown_field_0');
  });

  it('never leaks stack traces or SQL in problems', async () => {
    const response = await request(`${PLATFORM}/api/v1/%00%27;drop table organizations;--`);
    expect(response.status).toBe(404);
    const text = await response.text();
    expect(text).not.toMatch(/stack|at \w+ \(|drop table|select /i);
  });
});

describe('request ids', () => {
  it("answers with the server's own request id and keeps a well-formed X-Request-Id only as the correlation id", async () => {
    const id = 'client-supplied-id-0001';
    const response = await request(`${PLATFORM}/api/v1/nothing-here`, { headers: { 'x-request-id': id } });
    const server = response.headers.get('x-request-id');
    expect(server).toMatch(/^[0-9a-f-]{36}$/);
    expect(server).not.toBe(id);
    expect(response.headers.get('x-correlation-id')).toBe(id);
    expect((await problem(response)).requestId).toBe(server);
  });

  it('makes a fresh id for every request and ignores a malformed X-Request-Id', async () => {
    const seen = new Set<string>();
    for (const bad of ['short', 'has spaces in it ok', 'x'.repeat(200), '<script>alert(1)</script>']) {
      const response = await request(`${PLATFORM}/health`, { headers: { 'x-request-id': bad } });
      const id = response.headers.get('x-request-id') ?? '';
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      seen.add(id);
      expect(response.headers.has('x-correlation-id')).toBe(false);
    }
    expect(seen.size).toBe(4);
  });

  it("writes the server's request id into audit rows and the caller's id only as their correlation id", async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const chosen = 'attacker-chosen-request-id';
    const response = await request(tenant.url('/api/v1/auth/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': chosen },
      body: JSON.stringify({ email: member.email, password: TEST_PASSWORD }),
    });
    expect(response.status).toBe(200);
    // The sign-in's audit row is written after the response (AUDIT_QUEUE).
    const rows = await waitForAudits(tenant.organization.id, 'auth.login');
    expect(rows.map(({ requestId, correlationId }) => ({ requestId, correlationId }))).toEqual([
      { requestId: response.headers.get('x-request-id'), correlationId: chosen },
    ]);
  });
});

describe('security headers and caching', () => {
  it('sets the security headers and no-store on ordinary responses', async () => {
    const response = await request(`${PLATFORM}/health`);
    expectSecurityHeaders(response);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('forces no-store on any request that carries credentials, even a cacheable route', async () => {
    const anonymous = await request(`${PLATFORM}/api/v1/openapi.json`);
    expect(anonymous.headers.get('cache-control')).toBe('public, max-age=300');
    const withCookie = await request(`${PLATFORM}/api/v1/openapi.json`, { headers: { cookie: 'session=x' } });
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers.get('cache-control')).toBe('no-store');
  });

  it('answers a malformed bearer token on a protected route with 401, WWW-Authenticate and no-store', async () => {
    const tenant = await createTenant();
    const response = await request(tenant.url('/api/v1/auth/me'), { headers: { authorization: 'Bearer x' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expectSecurityHeaders(response);
  });

  it('ignores a stale or malformed token on a public route (no verification, no revocation round trip)', async () => {
    const id = newRequestId();
    const response = await request(`${PLATFORM}/api/v1/openapi.json`, {
      headers: { authorization: 'Bearer not.a.token', 'x-request-id': id },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    // The one Redis round trip is the document's per-address limit (meta-read-ip), not a session check.
    expect(response.headers.get('ratelimit-policy')).toMatch(/^"meta-read-ip";/);
    expect((await roundTrips(id)).redis).toBe(1);
  });
});

describe('CORS', () => {
  it('allows only the origins in the tenant settings', async () => {
    const tenant = await createTenant({ settings: { allowedOrigins: ['https://shop.example.com'] } });
    const allowed = await request(tenant.url('/api/v1/openapi.json'), {
      headers: { origin: 'https://shop.example.com' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const other = await request(tenant.url('/api/v1/openapi.json'), { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  function preflight(url: string, method = 'POST'): Promise<Response> {
    return request(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization, content-type, if-none-match, idempotency-key',
      },
    });
  }

  it('answers a preflight from an allowed origin with the allowed methods and headers', async () => {
    const tenant = await createTenant({ settings: { allowedOrigins: ['https://shop.example.com'] } });
    const response = await preflight(tenant.url('/api/v1/events'));
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
    expect(response.headers.get('access-control-allow-methods')?.split(',')).toEqual(['GET', 'HEAD', 'POST']);
    const allowedHeaders = response.headers.get('access-control-allow-headers')?.toLowerCase().split(',') ?? [];
    expect(allowedHeaders).toEqual(
      expect.arrayContaining([
        'authorization',
        'booking-token',
        'content-type',
        'if-none-match',
        'idempotency-key',
        'x-request-id',
      ]),
    );
  });

  it('lists in a preflight only the methods the requested path has', async () => {
    const tenant = await createTenant({ settings: { allowedOrigins: ['https://shop.example.com'] } });
    const methods = async (path: string) =>
      (await preflight(tenant.url(path))).headers.get('access-control-allow-methods')?.split(',').sort() ?? [];
    expect(await methods('/api/v1/openapi.json')).toEqual(['GET', 'HEAD']);
    expect(await methods(`/api/v1/events/${crypto.randomUUID()}`)).toEqual(['DELETE', 'GET', 'HEAD', 'PUT']);
    expect(await methods(`/api/v1/capacity-pools/${crypto.randomUUID()}`)).toEqual(['DELETE', 'PUT']);
    expect(await methods(`/api/v1/events/${crypto.randomUUID()}/publish`)).toEqual(['POST']);
    expect(await methods('/api/v1/nothing-here')).toEqual([]);
  });

  it('exposes the response headers clients read', async () => {
    const tenant = await createTenant({ settings: { allowedOrigins: ['https://shop.example.com'] } });
    const response = await request(tenant.url('/api/v1/openapi.json'), {
      headers: { origin: 'https://shop.example.com' },
    });
    const exposed = response.headers.get('access-control-expose-headers')?.toLowerCase().split(',') ?? [];
    expect(exposed).toEqual(
      expect.arrayContaining([
        'location',
        'etag',
        'ratelimit',
        'ratelimit-policy',
        'retry-after',
        'idempotent-replayed',
        'content-disposition',
        'x-request-id',
        'x-correlation-id',
      ]),
    );
    // The tag the browser may now read answers 304 through CORS too.
    const again = await request(tenant.url('/api/v1/openapi.json'), {
      headers: { origin: 'https://shop.example.com', 'if-none-match': response.headers.get('etag') ?? '' },
    });
    expect(again.status).toBe(304);
    expect(again.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
  });
});

describe('OpenAPI and docs', () => {
  it('serves a valid OpenAPI 3.1 document describing every route with problem responses', async () => {
    const response = await request(`${PLATFORM}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const document: {
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
      components: { schemas: Record<string, unknown> };
    } = await response.json();
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('Eventra API');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/api/v1/openapi.json', '/docs', '/health', '/health/ready', '/.well-known/jwks.json']),
    );
    expect(document.components.schemas.Problem).toBeDefined();
    const ready = document.paths['/health/ready']?.get;
    expect(ready?.responses['503']?.content?.['application/problem+json']).toBeDefined();
  });

  it('serves the interactive reference from its own origin only: the static bundle with SRI, a CSP without any CDN', async () => {
    const response = await request(`${PLATFORM}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; " +
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    const html = await response.text();
    // The document's bound on the page holds, with room for a longer bundle name and hash.
    expect(html.length).toBeLessThan(MAX_PAGE_LENGTH / 2);
    // The one script is the bundle the deployed assets' manifest names, with its integrity; nothing is inline.
    const manifestResponse = await assets().fetch('https://assets.invalid/docs/assets.json');
    expect(manifestResponse.status).toBe(200);
    const { scalar } = await manifestResponse.json<{ scalar: { path: string; integrity: string } }>();
    expect([...html.matchAll(/<script\b[^>]*>/g)].map(([tag]) => tag)).toEqual([
      expect.stringContaining('id="api-reference" type="application/json"'),
      `<script src="${scalar.path}" integrity="${scalar.integrity}">`,
    ]);
    expect(html).not.toMatch(/https?:\/\//);
    const configuration = /data-configuration="([^"]*)"/.exec(html)?.[1]?.replaceAll('&quot;', '"') ?? '{}';
    expect(JSON.parse(configuration)).toMatchObject({
      url: '/api/v1/openapi.json',
      withDefaultFonts: false,
      telemetry: false,
      showDeveloperTools: 'never',
    });

    const bundle = await assets().fetch(`https://assets.invalid${scalar.path}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(bundle.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const bytes = new Uint8Array(await bundle.arrayBuffer());
    const digest = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-384', bytes))));
    expect(`sha384-${digest}`).toBe(scalar.integrity);
  });
});
