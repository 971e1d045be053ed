import { describe, expect, it } from 'vitest';
import type { PublicEventListResponse, PublicEventResponse } from '../../src/routes/public/schema.ts';
import { encodeCursor } from '../../src/lib/cursor.ts';
import { createEvent, createTicketType, daysFromNow, getPublic, publicJson } from '../support/catalogue.ts';
import { createTenant, newRequestId, problem, request, roundTrips, type TestTenant } from '../support/harness.ts';

const EVENT_KEYS = [
  'capacity',
  'categories',
  'coverImageUrl',
  'description',
  'endsAt',
  'id',
  'priceFrom',
  'seriesId',
  'slug',
  'startsAt',
  'timezone',
  'title',
  'venue',
  'visibility',
];

async function list(tenant: TestTenant, query = ''): Promise<PublicEventListResponse> {
  return publicJson<PublicEventListResponse>(await getPublic(tenant, `/api/v1/public/events${query}`));
}

function slugs(page: PublicEventListResponse): string[] {
  return page.data.map((event) => event.slug);
}

describe('GET /api/v1/public/events', () => {
  it('lists only published public events that have not ended, with the public fields and no secrets', async () => {
    const tenant = await createTenant();
    const shown = await createEvent(tenant, {
      title: 'Shown',
      coverImageUrl: 'https://cdn.example.com/cover.jpg',
      categories: ['music', 'gala'],
    });
    await createTicketType(shown, { price: 2500, currency: 'EUR' });
    await createTicketType(shown, { price: 900, currency: 'EUR', name: 'Student' });
    await createTicketType(shown, { price: 100, currency: 'EUR', hidden: true, accessCode: 'CHEAP-SECRET' });
    const running = await createEvent(tenant, { startsAt: daysFromNow(-1), endsAt: daysFromNow(1) });
    await createEvent(tenant, { status: 'draft' });
    await createEvent(tenant, { status: 'cancelled' });
    await createEvent(tenant, { status: 'completed' });
    await createEvent(tenant, { visibility: 'private' });
    await createEvent(tenant, { visibility: 'unlisted' });
    await createEvent(tenant, { startsAt: daysFromNow(-3), endsAt: daysFromNow(-2) });

    const response = await getPublic(tenant, '/api/v1/public/events');
    expect(response.headers.get('cache-control')).toBe('public, max-age=30');
    const page = await publicJson<PublicEventListResponse>(response);
    expect(slugs(page)).toEqual([running.slug, shown.slug]);
    expect(page.nextCursor).toBeNull();
    const item = page.data[1] as PublicEventResponse;
    expect(Object.keys(item).sort()).toEqual(EVENT_KEYS);
    expect(item).toEqual({
      id: shown.id,
      slug: shown.slug,
      title: 'Shown',
      description: 'An evening of music.',
      startsAt: shown.startsAt.toISOString(),
      endsAt: shown.endsAt.toISOString(),
      timezone: 'Europe/Lisbon',
      venue: { name: 'Main Hall', city: 'Lisbon', country: 'PT' },
      capacity: 500,
      categories: ['music', 'gala'],
      coverImageUrl: 'https://cdn.example.com/cover.jpg',
      visibility: 'public',
      seriesId: null,
      // The hidden 1.00 EUR ticket type does not count.
      priceFrom: { price: 900, currency: 'EUR' },
    });
    expect(page.data[0]?.priceFrom).toBeNull();
  });

  it("never lists another organization's events", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const mine = await createEvent(tenant, { title: 'Mine' });
    await createEvent(other, { title: 'Theirs' });
    await createEvent(other, { title: 'Theirs too', startsAt: daysFromNow(1) });

    expect(slugs(await list(tenant))).toEqual([mine.slug]);
    expect((await list(other)).data.map((event) => event.title)).toEqual(['Theirs too', 'Theirs']);
  });

  it('orders by start then id and pages through every event exactly once', async () => {
    const tenant = await createTenant();
    const sameStart = daysFromNow(5);
    const created = [
      await createEvent(tenant, { startsAt: daysFromNow(9) }),
      await createEvent(tenant, { startsAt: sameStart }),
      await createEvent(tenant, { startsAt: sameStart }),
      await createEvent(tenant, { startsAt: daysFromNow(2) }),
      await createEvent(tenant, { startsAt: daysFromNow(30) }),
    ];
    const expected = [...created]
      .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime() || a.id.localeCompare(b.id))
      .map((event) => event.slug);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page = await list(tenant, query);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...slugs(page));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(expected);
    expect(slugs(await list(tenant))).toEqual(expected);
  });

  it('filters by start date range, replacing the upcoming default with `from`', async () => {
    const tenant = await createTenant();
    const past = await createEvent(tenant, { startsAt: daysFromNow(-10), endsAt: daysFromNow(-9) });
    const soon = await createEvent(tenant, { startsAt: daysFromNow(3) });
    const later = await createEvent(tenant, { startsAt: daysFromNow(20) });

    const from = daysFromNow(-11).toISOString();
    expect(slugs(await list(tenant, `?from=${from}`))).toEqual([past.slug, soon.slug, later.slug]);
    expect(slugs(await list(tenant, `?from=${from}&to=${daysFromNow(10).toISOString()}`))).toEqual([
      past.slug,
      soon.slug,
    ]);
    expect(slugs(await list(tenant, `?to=${daysFromNow(10).toISOString()}`))).toEqual([soon.slug]);
    // `to` is exclusive; `from` inclusive.
    expect(
      slugs(await list(tenant, `?from=${soon.startsAt.toISOString()}&to=${later.startsAt.toISOString()}`)),
    ).toEqual([soon.slug]);
    // With an offset.
    expect(slugs(await list(tenant, `?from=${encodeURIComponent('2000-01-01T00:00:00+02:00')}`))).toHaveLength(3);
  });

  it('filters by one exact category', async () => {
    const tenant = await createTenant();
    const music = await createEvent(tenant, { categories: ['music', 'outdoor'] });
    const talk = await createEvent(tenant, { categories: ['talks'], startsAt: daysFromNow(8) });
    await createEvent(tenant, { categories: [] });

    expect(slugs(await list(tenant, '?category=outdoor'))).toEqual([music.slug]);
    expect(slugs(await list(tenant, '?category=talks'))).toEqual([talk.slug]);
    expect(slugs(await list(tenant, '?category=Talks'))).toEqual([]);
    expect(slugs(await list(tenant, '?category=talk'))).toEqual([]);
  });

  it('searches titles case-insensitively and matches % and _ literally', async () => {
    const tenant = await createTenant();
    const discount = await createEvent(tenant, { title: '100% Jazz Night' });
    const snake = await createEvent(tenant, { title: 'Python_Meetup', startsAt: daysFromNow(8) });
    await createEvent(tenant, { title: '1000 Jazz Nights', startsAt: daysFromNow(9) });
    await createEvent(tenant, { title: 'PythonXMeetup', startsAt: daysFromNow(10) });
    const backslash = await createEvent(tenant, { title: 'Back\\slash Fest', startsAt: daysFromNow(11) });

    expect(slugs(await list(tenant, '?q=jazz'))).toHaveLength(2);
    expect(slugs(await list(tenant, '?q=0%25'))).toEqual([discount.slug]);
    expect(slugs(await list(tenant, '?q=N_M'))).toEqual([snake.slug]);
    expect(slugs(await list(tenant, '?q=%25'))).toEqual([discount.slug]);
    expect(slugs(await list(tenant, '?q=k%5Cs'))).toEqual([backslash.slug]);
    expect(slugs(await list(tenant, '?q=opera'))).toEqual([]);
  });

  it('refuses unknown parameters, a limit outside 1..100, malformed cursors and dates', async () => {
    const tenant = await createTenant();
    const lateCursor = encodeCursor({ at: '2026-02-31T00:00:00.000000Z', id: crypto.randomUUID() });
    for (const query of [
      '?status=draft',
      '?visibility=private',
      '?organizationId=x',
      '?sort=title',
      '?limit=0',
      '?limit=101',
      '?limit=abc',
      '?cursor=not*a*cursor',
      `?cursor=${lateCursor}`,
      `?cursor=${btoa('{"a":1}')}`,
      '?from=yesterday',
      '?to=2026-13-01T00:00:00Z',
      '?from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z',
      '?q=',
    ]) {
      const response = await getPublic(tenant, `/api/v1/public/events${query}`);
      expect(response.status, query).toBe(400);
      expect((await problem(response)).code).toBe('validation_failed');
    }
    expect((await list(tenant, '?limit=100')).data).toEqual([]);
    expect((await list(tenant, '?limit=1')).data).toEqual([]);
  });

  it('answers 404 on the platform host', async () => {
    const response = await request('http://localhost/api/v1/public/events', {
      headers: { 'cf-connecting-ip': '203.0.113.9' },
    });
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe('not_found');
  });

  it('makes one database and one Redis round trip', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    await createTicketType(event);
    await createEvent(tenant, { startsAt: daysFromNow(8) });
    const ip = '198.51.100.77';
    // Warms the tenant resolution and the rate limiter's script.
    await list(tenant);
    await getPublic(tenant, '/api/v1/public/events', { ip });

    const id = newRequestId();
    const response = await getPublic(tenant, '/api/v1/public/events?limit=1&q=gala&category=music', {
      ip,
      headers: { 'x-request-id': id },
    });
    const page = await publicJson<PublicEventListResponse>(response);
    expect(page.data).toHaveLength(1);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });

    const next = newRequestId();
    const second = await getPublic(tenant, `/api/v1/public/events?limit=1&cursor=${page.nextCursor ?? ''}`, {
      ip,
      headers: { 'x-request-id': next },
    });
    expect((await publicJson<PublicEventListResponse>(second)).data).toHaveLength(1);
    expect(await roundTrips(next)).toEqual({ database: 1, redis: 1 });
  });
});
