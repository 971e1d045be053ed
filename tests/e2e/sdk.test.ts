// The SDK (sdk/) against the running Workers (wrangler dev on real PostgreSQL and Redis, see ./stack.ts), end to end
// and through the SDK only: what an integrator's code does, over real HTTP, on the platform host and on an
// organization's host (`<slug>.localhost`, reached with the SDK's Node fetch for *.localhost). The public Worker is
// in front, as production routes the buyer's paths: the buyer's calls are answered by it, every other call passes
// through it to the API Worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventra, EventraProblemError, type Eventra, type Tokens } from '../../sdk/src/index.ts';
import { localFetch } from '../../sdk/src/node.ts';
import { startApi, type RunningApi } from './stack.ts';

let running: RunningApi | undefined;
const api = {
  get baseUrl(): string {
    if (running === undefined) throw new Error('the API did not start');
    return running.baseUrl;
  },
};

beforeAll(async () => {
  running = await startApi({ front: 'public', logLevel: 'info' });
});

afterAll(async () => {
  await running?.close();
});

/** A client address of its own (3fff::/20, documentation space) per client, so no per-address limit is shared. */
function clientAddress(): Record<string, string> {
  const hex = crypto.randomUUID().replaceAll('-', '');
  return { 'cf-connecting-ip': `3fff:0${hex.slice(0, 3)}:${hex.slice(3, 7)}:${hex.slice(7, 11)}::1` };
}

/** Records every request the SDK sends (method, path, Idempotency-Key, bearer) before passing it to `localFetch`. */
function recordingFetch(sent: { method: string; path: string; key: string | null; bearer: string | null }[]) {
  return (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    sent.push({
      method: request.method,
      path: url.pathname + url.search,
      key: request.headers.get('idempotency-key'),
      bearer: request.headers.get('authorization'),
    });
    return localFetch(request);
  };
}

async function problemOf(promise: Promise<unknown>): Promise<EventraProblemError> {
  const error: unknown = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  if (!(error instanceof EventraProblemError)) throw new Error(`expected an EventraProblemError, got ${String(error)}`);
  return error;
}

describe('the SDK against the running API', () => {
  it('signs up, sells, refunds, paginates, throws typed problems and refreshes tokens transparently', async () => {
    const slug = `sdk-${crypto.randomUUID().slice(0, 8)}`;
    const owner = { email: `owner@${slug}.test`, password: 'Harborview lantern quarry 2026', name: 'Ada Owner' };
    const staffHeaders = clientAddress();

    // 1. Sign up an organization on the platform host.
    const platform = createEventra({ baseUrl: api.baseUrl, fetch: localFetch, headers: staffHeaders });
    const signup = await platform.post('/api/v1/organizations', {
      body: { name: 'SDK Test Events', slug, owner },
    });
    expect(signup.organization.slug).toBe(slug);

    // 2. Sign in on the organization's host; onTokens sees every new pair.
    const persisted: (Tokens | null)[] = [];
    const sent: Parameters<typeof recordingFetch>[0] = [];
    const staff = createEventra({
      baseUrl: api.baseUrl,
      organization: slug,
      fetch: recordingFetch(sent),
      headers: staffHeaders,
      onTokens: (tokens) => {
        persisted.push(tokens);
      },
    });
    expect(staff.baseUrl).toBe(api.baseUrl.replace('://localhost', `://${slug}.localhost`));
    const session = await staff.login({ email: owner.email, password: owner.password });
    if ('mfaRequired' in session) throw new Error('the owner has no second factor: a session was expected');
    expect(session.user.email).toBe(owner.email);
    expect(persisted).toEqual([{ accessToken: session.accessToken, refreshToken: session.refreshToken }]);

    // 3. An event with a free and a paid ticket type, manual payment enabled, published.
    const startsAt = new Date(Date.now() + 30 * 86_400_000);
    const event = await staff.post('/api/v1/events', {
      body: {
        title: 'SDK Summit',
        timezone: 'Europe/Berlin',
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + 4 * 3_600_000).toISOString(),
      },
    });
    const free = await staff.post('/api/v1/events/{id}/ticket-types', {
      params: { path: { id: event.id } },
      body: { name: 'Community', price: 0, currency: 'EUR', quantity: 10 },
    });
    const paid = await staff.post('/api/v1/events/{id}/ticket-types', {
      params: { path: { id: event.id } },
      body: { name: 'Standard', price: 2500, currency: 'EUR', quantity: 50 },
    });
    await staff.put('/api/v1/organization/payment-settings', {
      body: { manualEnabled: true, manualInstructions: 'Pay at the door.' },
    });
    const published = await staff.post('/api/v1/events/{id}/publish', { params: { path: { id: event.id } } });
    expect(published.status).toBe('published');
    // The SDK made a fresh Idempotency-Key for each creating POST that accepts one, and sent the bearer token.
    const creations = sent.filter(
      (request) => request.method === 'POST' && /\/(events|ticket-types)$/.test(request.path),
    );
    expect(creations).toHaveLength(3);
    expect(new Set(creations.map((request) => request.key)).size).toBe(3);
    for (const request of creations) expect(request.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.find((request) => request.path.endsWith('/publish'))).toMatchObject({
      key: null,
      bearer: `Bearer ${session.accessToken}`,
    });

    // 4. Public buyers (no token) on the organization's host. The first checkout's answer is lost on the way back:
    //    the SDK retries with the same Idempotency-Key and the server replays the booking instead of making another.
    let dropped = 0;
    const buyerSent: Parameters<typeof recordingFetch>[0] = [];
    const recordBuyer = recordingFetch(buyerSent);
    const buyer = createEventra({
      baseUrl: api.baseUrl,
      organization: slug,
      headers: clientAddress(),
      fetch: async (request) => {
        const response = await recordBuyer(request);
        if (request.method === 'POST' && dropped === 0) {
          dropped++;
          await response.body?.cancel();
          throw new TypeError('fetch failed: the connection was reset');
        }
        return response;
      },
    });
    expect(buyer.tokens).toBeNull();
    const catalogue = await buyer.get('/api/v1/public/events/{slug}', { params: { path: { slug: event.slug } } });
    expect(catalogue.ticketTypes.map((ticketType) => ticketType.name).sort()).toEqual(['Community', 'Standard']);
    const checkout = await buyer.api.POST('/api/v1/public/events/{slug}/bookings', {
      params: { path: { slug: event.slug } },
      body: {
        buyer: { name: 'Grace Buyer', email: `grace@${slug}.test` },
        items: [{ ticketTypeId: paid.id, quantity: 2 }],
        paymentMethod: 'manual',
      },
    });
    const paidBooking = checkout.data;
    if (paidBooking === undefined) throw new Error('no booking');
    expect(paidBooking).toMatchObject({ status: 'pending', total: 5000, currency: 'EUR' });
    expect(checkout.response.headers.get('idempotent-replayed')).toBe('true');
    const checkouts = buyerSent.filter((request) => request.method === 'POST');
    expect(checkouts).toHaveLength(2);
    expect(checkouts[1]?.key).toBe(checkouts[0]?.key);
    expect(checkouts.every((request) => request.bearer === null)).toBe(true);
    const freeBooking = await buyer.post('/api/v1/public/events/{slug}/bookings', {
      params: { path: { slug: event.slug } },
      body: {
        buyer: { name: 'Alan Buyer', email: `alan@${slug}.test` },
        items: [{ ticketTypeId: free.id, quantity: 1 }],
      },
    });
    expect(freeBooking.status).toBe('confirmed');
    // The on-sale page's live seats, a stream the SDK leaves to the page: read here with the SDK's localFetch. In
    // this stack the public Worker answers it from the API Worker's EventLive Durable Object (bound by script name).
    const liveUrl = new URL(`/api/v1/public/events/${event.slug}/live`, api.baseUrl);
    liveUrl.hostname = `${slug}.localhost`;
    const live = await localFetch(new Request(liveUrl, { headers: clientAddress() }));
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = live.body?.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    while (stream !== undefined && !received.includes('"ticketTypes"')) {
      const { value, done } = await stream.read();
      if (done) break;
      received += value;
    }
    await stream?.cancel();
    expect(received).toContain(`event: availability\ndata: {"eventId":"${event.id}"`);

    // 5. Staff confirm the offline payment and refund it in full.
    await staff.post('/api/v1/bookings/{id}/confirm', { params: { path: { id: paidBooking.id } } });
    const refunded = await staff.post('/api/v1/bookings/{id}/refund', {
      params: { path: { id: paidBooking.id } },
      body: { reason: 'Cannot attend.' },
    });
    expect(refunded).toMatchObject({ status: 'refunded', refundedAmount: 5000 });

    // 6. Problems are thrown as typed errors: a free booking has no money to refund (409), an unknown event is 404,
    //    a page size out of range is 400 with a pointer.
    const conflict = await problemOf(
      staff.post('/api/v1/bookings/{id}/refund', { params: { path: { id: freeBooking.id } }, body: {} }),
    );
    expect(conflict).toMatchObject({ status: 409, code: 'conflict', type: 'https://eventra.app/problems/conflict' });
    expect(conflict.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await problemOf(
      staff.get('/api/v1/events/{id}', { params: { path: { id: crypto.randomUUID() } } }),
    );
    expect(missing).toMatchObject({ status: 404, code: 'not_found', title: 'Not found' });
    const invalid = await problemOf(staff.get('/api/v1/bookings', { params: { query: { limit: 1000 } } }));
    expect(invalid.code).toBe('validation_failed');
    expect(invalid.errors.map((error) => error.pointer)).toContain('/query/limit');

    // 7. Pagination: one booking per page, every booking once.
    const pagesBefore = sent.filter((request) => request.path.startsWith('/api/v1/bookings?')).length;
    const listed: string[] = [];
    for await (const booking of staff.paginate('/api/v1/bookings', { params: { query: { limit: 1 } } })) {
      listed.push(booking.id);
    }
    expect(listed.sort()).toEqual([paidBooking.id, freeBooking.id].sort());
    const pages = sent.filter((request) => request.path.startsWith('/api/v1/bookings?')).length - pagesBefore;
    expect(pages).toBeGreaterThanOrEqual(2);

    // 8. Refresh: an access token the server refuses (here a garbage one, as a stale token would be) answers 401;
    //    the SDK exchanges the refresh token once for all concurrent requests, retries them, and persists the
    //    rotated pair.
    const before = staff.tokens;
    if (before?.refreshToken === undefined) throw new Error('no session');
    await staff.setTokens({ accessToken: 'not.a.valid-token', refreshToken: before.refreshToken });
    persisted.length = 0; // forget the pair set by hand
    const [me, events, bookings] = await Promise.all([
      staff.get('/api/v1/auth/me'),
      staff.get('/api/v1/events'),
      staff.get('/api/v1/bookings/{id}', { params: { path: { id: paidBooking.id } } }),
    ]);
    expect(me.user.email).toBe(owner.email);
    expect(events.data.map((item) => item.id)).toEqual([event.id]);
    expect(bookings.status).toBe('refunded');
    const refreshes = sent.filter((request) => request.path === '/api/v1/auth/refresh-token');
    expect(refreshes).toHaveLength(1);
    expect(persisted).toHaveLength(1);
    const rotated = persisted[0];
    expect(rotated?.refreshToken).toBeDefined();
    expect(rotated?.refreshToken).not.toBe(before.refreshToken);
    expect(staff.tokens).toEqual(rotated);

    // Without a refresh token a refused access token is the caller's problem: a typed 401.
    const stale = createEventra({
      baseUrl: api.baseUrl,
      organization: slug,
      fetch: localFetch,
      tokens: { accessToken: 'not.a.valid-token' },
    });
    expect(await problemOf(stale.get('/api/v1/auth/me'))).toMatchObject({ status: 401, code: 'unauthorized' });

    // 9. Logout ends the session: the tokens are forgotten and the last access token no longer works.
    const lastAccess = staff.tokens?.accessToken ?? '';
    await staff.logout();
    expect(staff.tokens).toBeNull();
    expect(persisted.at(-1)).toBeNull();
    const after = createEventra({
      baseUrl: api.baseUrl,
      organization: slug,
      fetch: localFetch,
      tokens: { accessToken: lastAccess },
    });
    expect(await problemOf(after.get('/api/v1/auth/me'))).toMatchObject({ status: 401 });
  });

  it('reaches organization hosts only through their slug host, and the platform host without one', async () => {
    const platform: Eventra = createEventra({ baseUrl: api.baseUrl, fetch: localFetch, headers: clientAddress() });
    const nowhere = platform.organization(`none-${crypto.randomUUID().slice(0, 8)}`);
    expect((await problemOf(nowhere.get('/api/v1/public/events'))).status).toBe(404);
    expect(await platform.get('/health')).toMatchObject({ status: 'ok' });
  });

  it("is answered by the public Worker on the buyer's paths and by the API Worker on every other", async () => {
    /**
     * The Worker whose access-log line carries the correlation id `id` (the caller's X-Request-Id), waiting up to 10 s
     * for wrangler to pass the line on.
     */
    const answeredBy = async (id: string): Promise<unknown> => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const line = running
          ?.output()
          .split('\n')
          .find((text) => text.includes(`"correlationId":"${id}"`) && text.includes('"message":"request"'));
        if (line !== undefined) return (JSON.parse(line.slice(line.indexOf('{'))) as { worker: unknown }).worker;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no access-log line for ${id}`);
    };
    const client = (id: string): Eventra =>
      createEventra({ baseUrl: api.baseUrl, fetch: localFetch, headers: { ...clientAddress(), 'x-request-id': id } });
    const ids = { health: '', catalogue: '', me: '', invoice: '' };
    for (const key of Object.keys(ids) as (keyof typeof ids)[]) ids[key] = `e2e-front-${crypto.randomUUID()}`;
    const host = `none-${crypto.randomUUID().slice(0, 8)}`;

    expect(await client(ids.health).get('/health')).toMatchObject({ status: 'ok' });
    // The buyer's catalogue on a host of no organization: the public Worker's own tenant lookup answers 404.
    expect((await problemOf(client(ids.catalogue).organization(host).get('/api/v1/public/events'))).status).toBe(404);
    // A staff route, and a public path the public Worker has no route for (an invoice PDF): the API Worker's.
    // (the platform host has no member sessions: 404).
    expect((await problemOf(client(ids.me).get('/api/v1/auth/me'))).status).toBe(404);
    const invoice = client(ids.invoice)
      .organization(host)
      .get('/api/v1/public/bookings/{id}/invoice', {
        params: { path: { id: crypto.randomUUID() }, header: { 'booking-token': 'bt_unknown' } },
      });
    expect((await problemOf(invoice)).status).toBe(404);

    expect(await answeredBy(ids.health)).toBe('public');
    expect(await answeredBy(ids.catalogue)).toBe('public');
    expect(await answeredBy(ids.me)).toBe('api');
    expect(await answeredBy(ids.invoice)).toBe('api');
  });
});
