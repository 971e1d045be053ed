import { beforeAll, describe, expect, it } from 'vitest';
import { createEvent } from '../support/catalogue.ts';
import { eventBody } from '../support/events.ts';
import { bearer, createMember, createTenant, request, tokenFor, type TestTenant } from '../support/harness.ts';
import { post, randomIp } from '../support/auth.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';

/**
 * The document declares the response headers of every operation (routes/meta/conventions.ts). Real requests check it
 * both ways: every contract header the server sends on an answer is declared for that operation and status, every
 * header the document marks required is sent, and a rate-limited operation's 2xx carries its RateLimit headers.
 */

interface Header {
  required?: boolean;
  $ref?: string;
}
interface Operation {
  operationId: string;
  responses: Record<string, { headers?: Record<string, Header> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { headers: Record<string, Header> };
}

/** The headers the contract is about (others, such as Content-Type or the security headers, are not declared). */
const CONTRACT_HEADERS = [
  'x-request-id',
  'x-correlation-id',
  'access-control-allow-origin',
  'ratelimit',
  'ratelimit-policy',
  'retry-after',
  'location',
  'etag',
  'idempotent-replayed',
  'www-authenticate',
];

const ORIGIN = 'https://tickets.example.org';
let document: Document;
let tenant: TestTenant;
let token: string;

beforeAll(async () => {
  const response = await request(`${PLATFORM}/api/v1/openapi.json`, { headers: { 'cf-connecting-ip': randomIp() } });
  expect(response.status).toBe(200);
  document = await response.json();
  tenant = await createTenant({ settings: { allowedOrigins: [ORIGIN] } });
  token = await tokenFor(tenant, await createMember(tenant, 'owner'));
});

function declared(method: string, path: string, status: number): Record<string, Header> {
  const operation = document.paths[path]?.[method.toLowerCase()];
  if (!operation) throw new Error(`no operation ${method} ${path} in the document`);
  const response = operation.responses[String(status)];
  expect(response, `${operation.operationId} declares ${status}`).toBeDefined();
  const headers: Record<string, Header> = {};
  for (const [name, header] of Object.entries(response?.headers ?? {})) {
    const resolved = header.$ref ? document.components.headers[header.$ref.split('/').pop() ?? ''] : header;
    headers[name.toLowerCase()] = resolved ?? {};
  }
  return headers;
}

/** Checks one real answer against the document; returns it for further assertions. */
async function conforms(method: string, path: string, response: Response): Promise<Response> {
  const headers = declared(method, path, response.status);
  const name = `${method} ${path} ${response.status}`;
  for (const header of CONTRACT_HEADERS) {
    if (response.headers.has(header)) expect(Object.keys(headers), `${name} sends ${header}`).toContain(header);
  }
  for (const [header, declaration] of Object.entries(headers)) {
    if (declaration.required) expect(response.headers.has(header), `${name} requires ${header}`).toBe(true);
  }
  const limited = 'ratelimit' in headers;
  if (limited && response.status < 300) expect(response.headers.has('ratelimit'), `${name} RateLimit`).toBe(true);
  if (!limited) expect(response.headers.has('ratelimit'), `${name} sends no RateLimit`).toBe(false);
  await response.body?.cancel();
  return response;
}

describe('the response headers the document declares', () => {
  it('match the unlimited liveness probe and the limited meta reads', async () => {
    await conforms('GET', '/health', await request(`${PLATFORM}/health`));
    const ip = randomIp();
    await conforms(
      'GET',
      '/.well-known/jwks.json',
      await request(`${PLATFORM}/.well-known/jwks.json`, {
        headers: { 'cf-connecting-ip': ip, 'x-request-id': 'client-trace-0001' },
      }),
    );
    const ready = await request(tenant.url('/health/ready'), { headers: { 'cf-connecting-ip': ip } });
    expect((await conforms('GET', '/health/ready', ready)).headers.get('ratelimit-policy')).toContain('meta-read-ip');
  });

  it('match authenticated reads, their errors and CORS', async () => {
    const list = await request(tenant.url('/api/v1/events'), { headers: { ...bearer(token), origin: ORIGIN } });
    expect((await conforms('GET', '/api/v1/events', list)).headers.get('access-control-allow-origin')).toBe(ORIGIN);
    await conforms(
      'GET',
      '/api/v1/events/{id}',
      await request(tenant.url(`/api/v1/events/${crypto.randomUUID()}`), {
        headers: bearer(token),
      }),
    );
    const anonymous = await conforms('GET', '/api/v1/events', await request(tenant.url('/api/v1/events')));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    const invalid = await request(tenant.url('/api/v1/events?limit=0'), { headers: bearer(token) });
    expect((await conforms('GET', '/api/v1/events', invalid)).status).toBe(400);
  });

  it('match creation with an Idempotency-Key and its replay', async () => {
    const key = crypto.randomUUID();
    const body = JSON.stringify(eventBody());
    const create = () =>
      request(tenant.url('/api/v1/events'), {
        method: 'POST',
        headers: bearer(token, { 'idempotency-key': key }),
        body,
      });
    expect((await conforms('POST', '/api/v1/events', await create())).status).toBe(201);
    const replay = await conforms('POST', '/api/v1/events', await create());
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });

  it('match the sign-in flows: success, failure, refresh and the 429 with Retry-After', async () => {
    const member = await createMember(tenant, 'member');
    const ip = randomIp();
    const login = (password: string) =>
      post(tenant.url('/api/v1/auth/login'), { email: member.email, password }, {}, ip);
    const signedIn = await conforms('POST', '/api/v1/auth/login', await login(member.password));
    expect(signedIn.status).toBe(200);
    let failed = await login('not the password at all');
    for (let attempt = 0; failed.status === 401 && attempt < 12; attempt += 1) {
      await conforms('POST', '/api/v1/auth/login', failed);
      failed = await login('not the password at all');
    }
    const limited = await conforms('POST', '/api/v1/auth/login', failed);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    const refresh = await post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken: 'rt_unknown-token-value' });
    expect((await conforms('POST', '/api/v1/auth/refresh-token', refresh)).status).toBe(401);
  });

  it('match the public pages, the Stripe webhook and the platform host', async () => {
    const event = await createEvent(tenant);
    const headers = { 'cf-connecting-ip': randomIp() };
    await conforms('GET', '/api/v1/public/events', await request(tenant.url('/api/v1/public/events'), { headers }));
    await conforms(
      'GET',
      '/api/v1/public/events/{slug}',
      await request(tenant.url(`/api/v1/public/events/${event.slug}`), { headers }),
    );
    const missing = await request(tenant.url('/api/v1/public/events/no-such-event'), { headers });
    expect((await conforms('GET', '/api/v1/public/events/{slug}', missing)).status).toBe(404);
    const unsigned = await post(tenant.url('/api/v1/payments/stripe/webhook'), { id: 'evt_1' });
    expect((await conforms('POST', '/api/v1/payments/stripe/webhook', unsigned)).status).toBe(400);

    const admin = await createPlatformAdmin();
    const organizations = await request(`${PLATFORM}/api/v1/organizations`, {
      headers: bearer(admin.token),
    });
    const listed = await conforms('GET', '/api/v1/organizations', organizations);
    expect(listed.headers.get('ratelimit-policy')).toContain('api-platform-principal');
  });
});
