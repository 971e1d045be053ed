// The client's transport rules without a server: each test scripts the answers of the fetch it gives the client and
// checks what the client sent and what it did with the answers. tests/e2e/sdk.test.ts runs the same client against
// the real Worker; sdk/test/node.test.ts covers localFetch against a real loopback server.
import { describe, expect, it } from 'vitest';
import { createEventra, EventraProblemError, organizationUrl, type Tokens } from '../src/index.ts';

interface Sent {
  method: string;
  url: string;
  headers: Headers;
  body: string;
}

/** A fetch that answers from a script (one function per call, in order) and records every request. */
function scripted(...answers: ((request: Sent) => Response | Promise<Response>)[]) {
  const sent: Sent[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const entry = { method: request.method, url: request.url, headers: request.headers, body: await request.text() };
    sent.push(entry);
    const answer = answers[sent.length - 1];
    if (answer === undefined) throw new Error(`unexpected request ${request.method} ${request.url}`);
    return answer(entry);
  };
  return { fetch, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const problem = (status: number, code: string, headers: Record<string, string> = {}) =>
  new Response(
    JSON.stringify({ type: `https://eventra.app/problems/${code}`, title: code, status, code, requestId: 'r-1' }),
    {
      status,
      headers: { 'content-type': 'application/problem+json', ...headers },
    },
  );
const session = (n: number) => ({
  user: { id: 'u', email: 'a@b.test' },
  accessToken: `access-${n}`,
  refreshToken: `refresh-${n}`,
  expiresIn: 900,
  tokenType: 'Bearer',
});

describe('the Eventra client', () => {
  it('builds the organization host from the platform origin, keeping scheme and port', () => {
    expect(organizationUrl('http://localhost:8787/anything', 'acme')).toBe('http://acme.localhost:8787');
    expect(createEventra({ baseUrl: 'https://eventra.app', organization: 'acme' }).baseUrl).toBe(
      'https://acme.eventra.app',
    );
    expect(() => organizationUrl('https://eventra.app', 'Not A Slug')).toThrow(TypeError);
    const platform = createEventra({ baseUrl: 'https://eventra.app', tokens: { accessToken: 'platform' } });
    const tenant = platform.organization('globex');
    expect(tenant.baseUrl).toBe('https://globex.eventra.app');
    expect(tenant.tokens).toBeNull();
  });

  it('sends the bearer token only to operations that need one', async () => {
    const { fetch, sent } = scripted(
      () => json(200, { data: [], nextCursor: null }),
      () => json(200, { data: [], nextCursor: null }),
    );
    const client = createEventra({ baseUrl: 'https://acme.eventra.app', fetch, tokens: { accessToken: 'a1' } });
    await client.get('/api/v1/events');
    await client.get('/api/v1/public/events');
    expect(sent.map((request) => request.headers.get('authorization'))).toEqual(['Bearer a1', null]);
  });

  it('uploads an image as the raw body (binary request bodies need bodySerializer and the Content-Type)', async () => {
    const stored = { url: 'https://acme.eventra.app/api/v1/organization/logo?v=1', contentType: 'image/png' };
    let received: Uint8Array | null = null;
    const fetch = async (request: Request) => {
      received = new Uint8Array(await request.clone().arrayBuffer());
      return scripted(() => json(200, stored)).fetch(request);
    };
    const client = createEventra({ baseUrl: 'https://acme.eventra.app', fetch, tokens: { accessToken: 'a1' } });
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00]);
    const { data, response } = await client.api.PUT('/api/v1/organization/logo', {
      body: bytes as unknown as string,
      bodySerializer: (body: unknown) => body as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': 'image/png' },
    });
    expect(response.status).toBe(200);
    expect(data?.contentType).toBe('image/png');
    expect(received).toEqual(bytes);
  });

  it('adds an Idempotency-Key to operations that accept one, a fresh one per call, and keeps a given key', async () => {
    const created = () => json(201, { id: 'e1' });
    const { fetch, sent } = scripted(created, created, created, () => json(200, { id: 'e1', status: 'published' }));
    const client = createEventra({ baseUrl: 'https://acme.eventra.app', fetch, tokens: { accessToken: 'a1' } });
    const body = { title: 'T', timezone: 'UTC', startsAt: '2030-01-01T00:00:00Z', endsAt: '2030-01-01T01:00:00Z' };
    await client.post('/api/v1/events', { body });
    await client.post('/api/v1/events', { body });
    await client.post('/api/v1/events', { body, params: { header: { 'idempotency-key': 'my-own-key-1' } } });
    await client.post('/api/v1/events/{id}/publish', { params: { path: { id: 'e1' } } });
    const keys = sent.map((request) => request.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(keys.slice(2)).toEqual(['my-own-key-1', null]);
  });

  it('retries a keyed POST after a network error and a 409 in flight with the same key and body', async () => {
    const { fetch, sent } = scripted(
      () => Promise.reject(new TypeError('fetch failed')),
      () => problem(409, 'conflict', { 'retry-after': '0' }),
      () => json(201, { id: 'b1', status: 'confirmed' }, { 'idempotent-replayed': 'true' }),
    );
    const client = createEventra({ baseUrl: 'https://acme.eventra.app', fetch });
    const booking = await client.post('/api/v1/public/events/{slug}/bookings', {
      params: { path: { slug: 'gala' } },
      body: { buyer: { name: 'Ada', email: 'ada@example.com' }, items: [{ ticketTypeId: 't', quantity: 1 }] },
    });
    expect(booking).toMatchObject({ id: 'b1' });
    expect(new Set(sent.map((request) => request.headers.get('idempotency-key'))).size).toBe(1);
    expect(new Set(sent.map((request) => request.body)).size).toBe(1);
    expect(sent).toHaveLength(3);
  });

  it('never repeats a POST without a key, and throws a Retry-After longer than it waits for', async () => {
    const down = scripted(() => Promise.reject(new TypeError('fetch failed')));
    const client = createEventra({ baseUrl: 'https://acme.eventra.app', fetch: down.fetch });
    await expect(client.post('/api/v1/auth/login', { body: { email: 'a@b.test', password: 'x' } })).rejects.toThrow(
      'fetch failed',
    );
    expect(down.sent).toHaveLength(1);

    const limited = scripted(() => problem(429, 'rate_limited', { 'retry-after': '60' }));
    const error: unknown = await createEventra({ baseUrl: 'https://acme.eventra.app', fetch: limited.fetch })
      .get('/api/v1/public/events')
      .catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(EventraProblemError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 60, requestId: 'r-1' });
    expect(limited.sent).toHaveLength(1);
  });

  it('turns an answer that is not a problem into an EventraProblemError without a code', async () => {
    const { fetch } = scripted(
      () =>
        new Response('<h1>Bad gateway</h1>', {
          status: 502,
          statusText: 'Bad Gateway',
          headers: { 'x-request-id': 'edge-1' },
        }),
    );
    const error: unknown = await createEventra({ baseUrl: 'https://acme.eventra.app', fetch, retries: 0 })
      .get('/health')
      .catch((reason: unknown) => reason);
    expect(error).toMatchObject({
      status: 502,
      code: undefined,
      title: 'Bad Gateway',
      requestId: 'edge-1',
      errors: [],
    });
  });

  it('ends the session when the refresh token is refused: tokens cleared, onTokens(null), the 401 thrown', async () => {
    const { fetch, sent } = scripted(
      () => problem(401, 'unauthorized'),
      () => problem(401, 'unauthorized'),
    );
    const persisted: (Tokens | null)[] = [];
    const client = createEventra({
      baseUrl: 'https://acme.eventra.app',
      fetch,
      tokens: { accessToken: 'old', refreshToken: 'spent' },
      onTokens: (tokens) => {
        persisted.push(tokens);
      },
    });
    await expect(client.get('/api/v1/auth/me')).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(sent.map((request) => new URL(request.url).pathname)).toEqual([
      '/api/v1/auth/me',
      '/api/v1/auth/refresh-token',
    ]);
    expect(JSON.parse(sent[1]?.body ?? '')).toEqual({ refreshToken: 'spent' });
    expect(client.tokens).toBeNull();
    expect(persisted).toEqual([null]);
  });

  it('refreshes once for concurrent 401s and retries each request with the new token', async () => {
    let refreshes = 0;
    const fetch = async (request: Request): Promise<Response> => {
      if (request.url.endsWith('/refresh-token')) {
        refreshes++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return json(200, session(2));
      }
      const fresh = request.headers.get('authorization') === 'Bearer access-2';
      return fresh ? json(200, { ok: true }) : problem(401, 'unauthorized');
    };
    const client = createEventra({
      baseUrl: 'https://acme.eventra.app',
      fetch,
      tokens: { accessToken: 'access-1', refreshToken: 'refresh-1' },
    });
    const results = await Promise.all([
      client.get('/api/v1/auth/me'),
      client.get('/api/v1/organization'),
      client.get('/api/v1/roles'),
    ]);
    expect(results).toHaveLength(3);
    expect(refreshes).toBe(1);
    expect(client.tokens).toEqual({ accessToken: 'access-2', refreshToken: 'refresh-2' });
  });

  it('walks every page of a cursor list, passing the query and the cursor', async () => {
    const { fetch, sent } = scripted(
      () => json(200, { data: [{ id: 'a' }, { id: 'b' }], nextCursor: 'c1' }),
      () => json(200, { data: [{ id: 'c' }], nextCursor: null }),
    );
    const client = createEventra({ baseUrl: 'https://acme.eventra.app', fetch, tokens: { accessToken: 'a1' } });
    const ids: string[] = [];
    for await (const event of client.paginate('/api/v1/events', {
      params: { query: { limit: 2, status: 'published' } },
    })) {
      ids.push(event.id);
    }
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(sent.map((request) => new URL(request.url).search)).toEqual([
      '?limit=2&status=published',
      '?limit=2&status=published&cursor=c1',
    ]);
  });
});
