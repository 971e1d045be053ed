import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { events } from '../../src/db/schema/events.ts';
import { announceCatalogueChanges } from '../../src/services/catalogue/edge-cache.ts';
import { randomIp } from '../support/auth.ts';
import { enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import { eventBody, insertEvent } from '../support/events.ts';
import { database, createTenant, request, type TestTenant } from '../support/harness.ts';
import { mailbox, signup, signupBody } from '../support/organizations.ts';
import { redis } from '../support/plans.ts';
import { call, memberWithToken } from '../support/users.ts';
import { receiverUrl } from '../support/webhooks.ts';

/** The origin `wrangler dev` serves locally: the port must survive into every URL the API hands out. */
const PORT = 8787;

function at(tenant: TestTenant, path: string): string {
  return `http://${tenant.host}:${PORT}${path}`;
}

/** A JSON request to the tenant's host on port 8787. */
function send(
  tenant: TestTenant,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  return request(at(tenant, path), {
    method,
    headers: {
      'content-type': 'application/json',
      'cf-connecting-ip': randomIp(),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

async function created(response: Response): Promise<{ id: string; location: string }> {
  expect(response.status, await response.clone().text()).toBe(201);
  const body = await response.json<{ id: string }>();
  return { id: body.id, location: response.headers.get('location') ?? '' };
}

describe('Location on 201', () => {
  it('points at the created event with the request scheme, host and port, and the URL serves it', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const { id, location } = await created(await send(tenant, 'POST', '/api/v1/events', { token, body: eventBody() }));
    expect(location).toBe(at(tenant, `/api/v1/events/${id}`));
    const read = await request(location, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    expect((await read.json<{ id: string }>()).id).toBe(id);
  });

  it('carries the same Location on an Idempotency-Key replay', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const headers = { 'idempotency-key': crypto.randomUUID() };
    const body = eventBody();
    const first = await created(await send(tenant, 'POST', '/api/v1/events', { token, body, headers }));
    const replay = await send(tenant, 'POST', '/api/v1/events', { token, body, headers });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await created(replay)).toEqual(first);
    expect(first.location).toBe(at(tenant, `/api/v1/events/${first.id}`));
  });

  it('is on every creating operation, pointing at what was created', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    await enableManualPayment(tenant);
    const { token } = await memberWithToken(tenant, 'owner');
    const event = await insertEvent(tenant);

    const ticketType = await created(
      await send(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, {
        token,
        body: { name: 'Standard', price: 2500, currency: 'EUR', quantity: 100 },
      }),
    );
    expect(ticketType.location).toBe(at(tenant, `/api/v1/ticket-types/${ticketType.id}`));

    const pool = await created(
      await send(tenant, 'POST', `/api/v1/events/${event.id}/capacity-pools`, {
        token,
        body: { name: 'Hall', capacity: 10, ticketTypeIds: [ticketType.id] },
      }),
    );
    expect(pool.location).toBe(at(tenant, `/api/v1/capacity-pools/${pool.id}`));

    const role = await created(
      await send(tenant, 'POST', '/api/v1/roles', {
        token,
        body: { key: 'door', name: 'Door', permissions: ['events:read'] },
      }),
    );
    expect(role.location).toBe(at(tenant, `/api/v1/roles/${role.id}`));

    const member = await created(
      await send(tenant, 'POST', '/api/v1/users', {
        token,
        body: { email: `new-${crypto.randomUUID().slice(0, 8)}@example.com`, name: 'New', role: 'staff' },
      }),
    );
    expect(member.location).toBe(at(tenant, `/api/v1/users/${member.id}`));

    const webhook = await created(
      await send(tenant, 'POST', '/api/v1/webhooks', { token, body: { url: receiverUrl() } }),
    );
    expect(webhook.location).toBe(at(tenant, `/api/v1/webhooks/${webhook.id}`));

    const published = await createEvent(tenant);
    const paid = await createTicketType(published, { price: 1500 });
    const booking = await created(
      await send(tenant, 'POST', `/api/v1/public/events/${published.slug}/bookings`, {
        body: {
          buyer: { name: 'Ada', email: 'ada@example.com' },
          items: [{ ticketTypeId: paid.id, quantity: 1 }],
          paymentMethod: 'manual',
        },
      }),
    );
    expect(booking.location).toBe(at(tenant, `/api/v1/public/bookings/${booking.id}`));

    expect((await send(tenant, 'POST', `/api/v1/bookings/${booking.id}/confirm`, { token })).status).toBe(200);
    const refund = await created(
      await send(tenant, 'POST', `/api/v1/bookings/${booking.id}/refund`, { token, body: { amount: 500 } }),
    );
    expect(refund.location).toBe(at(tenant, `/api/v1/bookings/${booking.id}`));

    const email = `self-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const registered = await send(tenant, 'POST', '/api/v1/auth/register', {
      body: { email, password: 'a long and unusual passphrase', name: 'Self' },
    });
    expect(registered.status).toBe(201);
    expect(registered.headers.get('location')).toBe(at(tenant, '/api/v1/auth/me'));
  });

  it('points the sign-up at the new organization host with the platform request scheme and port', async () => {
    const body = signupBody();
    const response = await request(`http://localhost:${PORT}/api/v1/organizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`http://${body.slug}.localhost:${PORT}/api/v1/organization`);
    const [message] = await mailbox(body.owner.email);
    expect(message?.links[0]).toMatch(
      new RegExp(`^http://${body.slug}\\.localhost:${PORT}/verify-email\\?token=ev_[A-Za-z0-9_-]{43}$`),
    );
  });

  it('keeps the default port out of the sign-up links when the request had none', async () => {
    const body = signupBody();
    expect((await signup(body)).status).toBe(201);
    const [message] = await mailbox(body.owner.email);
    expect(message?.links[0]).toMatch(new RegExp(`^http://${body.slug}\\.localhost/verify-email\\?token=`));
  });
});

describe('links in emails', () => {
  it('sends the verification link of a sign-up on the organization host, with the port of the request', async () => {
    const tenant = await createTenant();
    const email = `self-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const response = await send(tenant, 'POST', '/api/v1/auth/register', {
      body: { email, password: 'a long and unusual passphrase', name: 'Self' },
      // Never taken from forwarding headers: only the host the organization was resolved from counts.
      headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'host=evil.example' },
    });
    expect(response.status).toBe(201);
    const [message] = await mailbox(email);
    const link = new URL(message?.links[0] ?? '');
    expect(`${link.origin}${link.pathname}`).toBe(at(tenant, '/verify-email'));
    expect(link.searchParams.get('token')).toMatch(/^ev_/);
  });

  it('sends the invitation link on the organization host with the port of the request', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const email = `invitee-${crypto.randomUUID().slice(0, 8)}@example.com`;
    await created(await send(tenant, 'POST', '/api/v1/users', { token, body: { email, name: 'I', role: 'staff' } }));
    const [message] = await mailbox(email);
    expect(message?.links[0]).toMatch(new RegExp(`^${at(tenant, '/accept-invitation')}\\?token=`));
  });

  it('sends the password reset link with the port of the request', async () => {
    const tenant = await createTenant();
    const { member } = await memberWithToken(tenant, 'staff');
    const response = await send(tenant, 'POST', '/api/v1/auth/forgot-password', { body: { email: member.email } });
    expect(response.status).toBe(202);
    const [message] = await mailbox(member.email);
    expect(message?.links[0]).toMatch(new RegExp(`^${at(tenant, '/reset-password')}\\?token=`));
  });
});

describe('ETag and If-None-Match', () => {
  it('tags a public read and answers the same tag with 304: no body, the same headers but the representation', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const ip = randomIp();
    const first = await getPublic(tenant, `/api/v1/public/events/${event.slug}`, { ip });
    expect(first.status).toBe(200);
    const tag = first.headers.get('etag') ?? '';
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(first.headers.get('vary')).toContain('Authorization');

    const again = await getPublic(tenant, `/api/v1/public/events/${event.slug}`, {
      ip,
      headers: { 'if-none-match': tag },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(again.headers.get('etag')).toBe(tag);
    expect(again.headers.get('cache-control')).toBe('public, max-age=30');
    expect(again.headers.get('vary')).toContain('Authorization');
    expect(again.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(again.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    expect(again.headers.get('ratelimit')).toBeTruthy();
    expect(again.headers.get('ratelimit-policy')).toBeTruthy();
    expect(again.headers.get('content-type')).toBeNull();
  });

  it('compares weakly and through lists, and answers 200 again once the resource changed', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const path = `/api/v1/public/events/${event.slug}`;
    const tag = (await getPublic(tenant, path)).headers.get('etag') ?? '';
    for (const ifNoneMatch of [`W/${tag}`, `"other", ${tag}`, '*']) {
      expect((await getPublic(tenant, path, { headers: { 'if-none-match': ifNoneMatch } })).status, ifNoneMatch).toBe(
        304,
      );
    }
    expect((await getPublic(tenant, path, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);

    await database().update(events).set({ title: 'Renamed' }).where(eq(events.id, event.id));
    // Announced as the outbox dispatch announces an API change (the edge cache keeps answers until then).
    await announceCatalogueChanges(redis(), new Map([[tenant.organization.id, 'content']]));
    const changed = await getPublic(tenant, path, { headers: { 'if-none-match': tag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(tag);
    expect((await changed.json<{ title: string }>()).title).toBe('Renamed');
  });

  it('tags authenticated reads and lists; their 304 stays no-store and keeps the plan rate-limit headers', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const event = await insertEvent(tenant);
    for (const path of [`/api/v1/events/${event.id}`, '/api/v1/events', '/api/v1/auth/me', '/api/v1/roles']) {
      const first = await call(tenant, 'GET', path, { token });
      expect(first.status, path).toBe(200);
      const tag = first.headers.get('etag') ?? '';
      expect(tag, path).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
      const again = await call(tenant, 'GET', path, { token, headers: { 'if-none-match': tag } });
      expect(again.status, path).toBe(304);
      expect(again.headers.get('etag')).toBe(tag);
      expect(again.headers.get('cache-control')).toBe('no-store');
      expect(again.headers.get('ratelimit')).toBeTruthy();
      expect(again.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('puts no tag on writes, errors and downloads, and never answers them 304', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const write = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
    expect(write.status).toBe(201);
    expect(write.headers.get('etag')).toBeNull();
    const missing = await call(tenant, 'GET', `/api/v1/events/${crypto.randomUUID()}`, {
      token,
      headers: { 'if-none-match': '*' },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('etag')).toBeNull();
    for (const format of ['csv', 'json']) {
      const download = await call(tenant, 'GET', `/api/v1/audit-logs/export?format=${format}`, {
        token,
        headers: { 'if-none-match': '*' },
      });
      expect(download.status, format).toBe(200);
      expect(download.headers.get('content-disposition')).toContain('attachment');
      expect(download.headers.get('etag')).toBeNull();
      await download.body?.cancel();
    }
  });
});
