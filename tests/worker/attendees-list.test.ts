import { describe, expect, it } from 'vitest';
import type { EventAttendeeListResponse, EventAttendeeResponse } from '../../src/routes/attendees/schema.ts';
import type { CheckInResultResponse } from '../../src/routes/check-ins/schema.ts';
import type { CreatedBookingResponse } from '../../src/routes/bookings/schema.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import {
  answerText,
  createMember,
  createTenant,
  newRequestId,
  problem,
  roundTrips,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { graphqlClient, type GraphqlError } from '../support/graphql.ts';
import { call, createCustomRole, memberWithToken } from '../support/users.ts';

const unique = () => crypto.randomUUID().slice(0, 8);

/**
 * A tenant with an event of two free ticket types and a paid one (manual payment), door staff and an organizer, and
 * three bookings: two confirmed (free) and one pending (paid, not yet confirmed).
 */
async function setup() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const staff = await memberWithToken(tenant, 'staff');
  const organizer = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const general = await createTicketType(event, { name: 'General', price: 0 });
  const vip = await createTicketType(event, { name: 'VIP', price: 0 });
  const paid = await createTicketType(event, { name: 'Supporter', price: 2500 });
  const tag = unique();
  const pair = await book(tenant, event.slug, {
    items: [
      {
        ticketTypeId: general.id,
        quantity: 2,
        attendees: [
          { name: 'Grace Hopper', email: `grace.${tag}@navy.example` },
          { name: 'Alan Turing', email: `alan.${tag}@bletchley.example` },
        ],
      },
    ],
  });
  const single = await book(tenant, event.slug, {
    items: [
      { ticketTypeId: vip.id, quantity: 1, attendees: [{ name: 'Ada Lovelace', email: `ada.${tag}@example.com` }] },
    ],
  });
  const pending = await book(tenant, event.slug, {
    items: [
      {
        ticketTypeId: paid.id,
        quantity: 1,
        attendees: [{ name: 'Charles Babbage', email: `charles.${tag}@engine.example` }],
      },
    ],
  });
  return { tenant, staff, organizer, token: staff.token, event, general, vip, paid, pair, single, pending, tag };
}

function list(tenant: TestTenant, token: string | undefined, eventId: string, query = '', requestId?: string) {
  return call(tenant, 'GET', `/api/v1/events/${eventId}/attendees${query}`, {
    ...(token === undefined ? {} : { token }),
    ...(requestId === undefined ? {} : { headers: { 'x-request-id': requestId } }),
  });
}

async function page(
  tenant: TestTenant,
  token: string,
  eventId: string,
  query = '',
): Promise<EventAttendeeListResponse> {
  const response = await list(tenant, token, eventId, query);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

const names = (body: EventAttendeeListResponse) => body.data.map((attendee) => attendee.name);
const ticketOf = (booking: CreatedBookingResponse, index = 0) => {
  const ticket = booking.attendees[index];
  if (ticket === undefined) throw new Error(`booking ${booking.id} has no ticket ${index}`);
  return ticket;
};

describe('GET /api/v1/events/{id}/attendees', () => {
  it('lists the tickets of confirmed bookings with ticket type, booking and check-in state in one round trip', async () => {
    const { tenant, token, event, general, vip, pair, single } = await setup();
    // A booking of another event of the same organization is not listed.
    const otherEvent = await createEvent(tenant);
    const otherType = await createTicketType(otherEvent, { price: 0 });
    await book(tenant, otherEvent.slug, { items: [{ ticketTypeId: otherType.id, quantity: 1 }] });

    const requestId = newRequestId();
    const response = await list(tenant, token, event.id, '', requestId);
    expect(response.status).toBe(200);
    const body: EventAttendeeListResponse = await response.json();
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(body.nextCursor).toBeNull();

    // Booking order (the pair was booked first), then the ticket id within a booking.
    const pairTickets = [ticketOf(pair, 0), ticketOf(pair, 1)].sort((a, b) => a.id.localeCompare(b.id));
    expect(body.data.map((attendee) => attendee.id)).toEqual([...pairTickets.map((t) => t.id), ticketOf(single).id]);

    const grace = body.data.find((attendee) => attendee.id === ticketOf(pair, 0).id);
    expect(grace).toEqual({
      id: ticketOf(pair, 0).id,
      name: 'Grace Hopper',
      email: ticketOf(pair, 0).email,
      ticketCode: ticketOf(pair, 0).ticketCode,
      status: 'valid',
      ticketType: { id: general.id, name: 'General' },
      booking: { id: pair.id, status: 'confirmed' },
      checkedIn: false,
      checkedInAt: null,
      createdAt: pair.createdAt,
    } satisfies EventAttendeeResponse);
    expect(body.data.at(-1)).toMatchObject({
      name: 'Ada Lovelace',
      ticketType: { id: vip.id, name: 'VIP' },
      booking: { id: single.id, status: 'confirmed' },
    });
  });

  it('pages through every ticket once, in both orders, with cursors bound to their sort', async () => {
    const { tenant, token, event, general } = await setup();
    for (let index = 0; index < 4; index += 1) {
      await book(tenant, event.slug, { items: [{ ticketTypeId: general.id, quantity: 2 }] });
    }
    const all = await page(tenant, token, event.id, '?limit=100');
    expect(all.data).toHaveLength(11);
    expect(all.nextCursor).toBeNull();

    for (const sort of ['bookedAt', '-bookedAt'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=3&sort=${sort}${cursor === null ? '' : `&cursor=${cursor}`}`;
        const body = await page(tenant, token, event.id, query);
        expect(body.data.length).toBeLessThanOrEqual(3);
        seen.push(...body.data.map((attendee) => attendee.id));
        cursor = body.nextCursor;
        pages += 1;
      } while (cursor !== null);
      expect(pages).toBe(4);
      const expected = all.data.map((attendee) => attendee.id);
      expect(seen).toEqual(sort === 'bookedAt' ? expected : [...expected].reverse());
    }

    // Tickets sold while the door pages through land on the last page: nothing already read moves.
    const head = await page(tenant, token, event.id, '?limit=5');
    const late = await book(tenant, event.slug, { items: [{ ticketTypeId: general.id, quantity: 1 }] });
    const rest: string[] = [];
    let next = head.nextCursor;
    while (next !== null) {
      const body = await page(tenant, token, event.id, `?limit=5&cursor=${next}`);
      rest.push(...body.data.map((attendee) => attendee.id));
      next = body.nextCursor;
    }
    expect([...head.data.map((attendee) => attendee.id), ...rest]).toEqual([
      ...all.data.map((attendee) => attendee.id),
      ticketOf(late).id,
    ]);

    // A cursor of one order passed with the other answers 400, not a wrong page.
    const first = await page(tenant, token, event.id, '?limit=3');
    const crossed = await list(tenant, token, event.id, `?limit=3&sort=-bookedAt&cursor=${first.nextCursor ?? ''}`);
    expect(crossed.status).toBe(400);
    expect((await problem(crossed)).errors?.[0]?.pointer).toBe('/query/cursor');
  });

  it('searches names and emails (case-insensitive substring) and exact ticket codes as check-in normalizes them', async () => {
    const { tenant, token, event, pair, single, tag } = await setup();
    const grace = ticketOf(pair, 0);

    expect(names(await page(tenant, token, event.id, '?q=HOPP'))).toEqual(['Grace Hopper']);
    expect(names(await page(tenant, token, event.id, '?q=%20turing%20'))).toEqual(['Alan Turing']);
    expect(names(await page(tenant, token, event.id, `?q=${encodeURIComponent(`ADA.${tag}@EXAMPLE`)}`))).toEqual([
      'Ada Lovelace',
    ]);
    // Any part of the address matches, the domain included.
    expect(names(await page(tenant, token, event.id, '?q=bletchley.example'))).toEqual(['Alan Turing']);

    // The code as typed at the door: lower case, dashes and spaces.
    const typed = `${grace.ticketCode.slice(0, 4).toLowerCase()}-${grace.ticketCode.slice(4, 8)} ${grace.ticketCode.slice(8)}`;
    const byCode = await page(tenant, token, event.id, `?q=${encodeURIComponent(typed)}`);
    expect(byCode.data.map((attendee) => attendee.id)).toEqual([grace.id]);
    // A code is matched whole, never in part.
    expect((await page(tenant, token, event.id, `?q=${grace.ticketCode.slice(0, 6)}`)).data).toEqual([]);
    // Another ticket's code finds that ticket only.
    expect(names(await page(tenant, token, event.id, `?q=${ticketOf(single).ticketCode}`))).toEqual(['Ada Lovelace']);

    // LIKE operators match literally.
    expect((await page(tenant, token, event.id, '?q=%25')).data).toEqual([]);
    expect((await page(tenant, token, event.id, '?q=_')).data).toEqual([]);
    expect((await page(tenant, token, event.id, '?q=nobody-by-this-name')).data).toEqual([]);
  });

  it('filters by ticket type and booking status', async () => {
    const { tenant, token, organizer, event, general, vip, paid, pair, pending } = await setup();
    expect(names(await page(tenant, token, event.id, `?ticketTypeId=${vip.id}`))).toEqual(['Ada Lovelace']);
    expect(new Set(names(await page(tenant, token, event.id, `?ticketTypeId=${general.id}`)))).toEqual(
      new Set(['Grace Hopper', 'Alan Turing']),
    );
    // The pending (unpaid) booking is listed only on request.
    expect(names(await page(tenant, token, event.id, `?ticketTypeId=${paid.id}`))).toEqual([]);
    const unpaid = await page(tenant, token, event.id, '?bookingStatus=pending');
    expect(unpaid.data).toHaveLength(1);
    expect(unpaid.data[0]).toMatchObject({
      name: 'Charles Babbage',
      booking: { id: pending.id, status: 'pending' },
      ticketType: { id: paid.id, name: 'Supporter' },
    });

    // A cancelled booking leaves the default list; its tickets are listed, cancelled, under bookingStatus=cancelled.
    const cancel = await call(tenant, 'POST', `/api/v1/bookings/${pair.id}/cancel`, { token: organizer.token });
    expect(cancel.status).toBe(200);
    expect(names(await page(tenant, token, event.id))).toEqual(['Ada Lovelace']);
    const cancelled = await page(tenant, token, event.id, '?bookingStatus=cancelled');
    expect(cancelled.data.map((attendee) => [attendee.name, attendee.status, attendee.booking.status]).sort()).toEqual([
      ['Alan Turing', 'cancelled', 'cancelled'],
      ['Grace Hopper', 'cancelled', 'cancelled'],
    ]);
    // Filters combine with the search.
    expect(names(await page(tenant, token, event.id, '?bookingStatus=cancelled&q=grace'))).toEqual(['Grace Hopper']);
  });

  it('shows a check-in made through the check-in route, and filters on it', async () => {
    const { tenant, token, event, pair } = await setup();
    const grace = ticketOf(pair, 0);
    const scan = await call(tenant, 'POST', '/api/v1/check-ins', {
      token,
      body: { ticketCode: grace.ticketCode, eventId: event.id },
    });
    expect(scan.status).toBe(200);
    const checkIn: CheckInResultResponse = await scan.json();

    const body = await page(tenant, token, event.id);
    const listed = body.data.find((attendee) => attendee.id === grace.id);
    expect(listed).toMatchObject({ checkedIn: true, checkedInAt: checkIn.checkedInAt });
    expect(
      body.data.filter((attendee) => attendee.id !== grace.id).every((a) => !a.checkedIn && a.checkedInAt === null),
    ).toBe(true);

    expect(names(await page(tenant, token, event.id, '?checkedIn=true'))).toEqual(['Grace Hopper']);
    expect(new Set(names(await page(tenant, token, event.id, '?checkedIn=false')))).toEqual(
      new Set(['Alan Turing', 'Ada Lovelace']),
    );
    expect(names(await page(tenant, token, event.id, '?checkedIn=true&q=turing'))).toEqual([]);
  });

  it('needs bookings:read: staff, organizers and keys holding it may read; others get 403, no credentials 401', async () => {
    const { tenant, token, organizer, event } = await setup();
    expect((await list(tenant, token, event.id)).status).toBe(200);
    expect((await list(tenant, organizer.token, event.id)).status).toBe(200);

    const member = await memberWithToken(tenant, 'member');
    const refused = await list(tenant, member.token, event.id);
    expect(refused.status).toBe(403);
    expect((await problem(refused)).code).toBe('forbidden');

    // Seeing events is not enough.
    const role = await createCustomRole(tenant, `viewer-${unique()}`, ['events:read']);
    const viewer = await createMember(tenant, role.key);
    expect((await list(tenant, await tokenFor(tenant, viewer), event.id)).status).toBe(403);

    expect((await list(tenant, undefined, event.id)).status).toBe(401);

    // API keys: a test key reads the real list (no separate test data); a key without bookings:read gets 403.
    const owner = await memberWithToken(tenant, 'owner');
    const createKey = async (permissions: string[]) => {
      const response = await call(tenant, 'POST', '/api/v1/api-keys', {
        token: owner.token,
        body: { name: `door ${unique()}`, environment: 'test', permissions },
      });
      expect(response.status, await response.clone().text()).toBe(201);
      return (await response.json<{ key: string }>()).key;
    };
    const readKey = await createKey(['bookings:read']);
    const requestId = newRequestId();
    const withKey = await list(tenant, readKey, event.id, '', requestId);
    expect(withKey.status).toBe(200);
    expect((await withKey.json<EventAttendeeListResponse>()).data).toHaveLength(3);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect((await list(tenant, await createKey(['events:read']), event.id)).status).toBe(403);
  });

  it("answers 404 for an unknown event and another organization's, the same way, in one round trip", async () => {
    const { tenant, token } = await setup();
    const other = await setup();
    const unknownId = newRequestId();
    const unknown = await list(tenant, token, crypto.randomUUID(), '', unknownId);
    expect(unknown.status).toBe(404);
    expect(await roundTrips(unknownId)).toEqual({ database: 1, redis: 1 });
    const crossTenant = await list(tenant, token, other.event.id);
    expect(crossTenant.status).toBe(404);
    const [unknownText, crossText] = [await answerText(unknown), await answerText(crossTenant)];
    expect(crossText).toBe(unknownText);
    expect(crossText).toContain('No event with this id.');
    expect(crossText).not.toContain(other.pair.attendees[0]?.name ?? 'never');

    // The other organization's own staff still sees its list.
    expect((await page(other.tenant, other.token, other.event.id)).data).toHaveLength(3);
  });

  it('answers 400 with a pointer for bad query parameters', async () => {
    const { tenant, token, event } = await setup();
    const cases: [string, string][] = [
      ['?limit=0', '/query/limit'],
      ['?limit=101', '/query/limit'],
      ['?limit=ten', '/query/limit'],
      ['?cursor=not*base64', '/query/cursor'],
      [`?cursor=${btoa('["yesterday","x"]').replace(/=+$/, '')}`, '/query/cursor'],
      ['?checkedIn=yes', '/query/checkedIn'],
      ['?bookingStatus=paid', '/query/bookingStatus'],
      ['?ticketTypeId=42', '/query/ticketTypeId'],
      ['?sort=name', '/query/sort'],
      ['?q=', '/query/q'],
      ['?q=%20%20', '/query/q'],
      [`?q=${'a'.repeat(255)}`, '/query/q'],
      ['?q=%00', '/query/q'],
      ['?q=a%09b', '/query/q'],
    ];
    for (const [query, pointer] of cases) {
      const response = await list(tenant, token, event.id, query);
      expect(response.status, query).toBe(400);
      const body = await problem(response);
      expect(body.code, query).toBe('validation_failed');
      expect(
        body.errors?.map((error) => error.pointer),
        query,
      ).toContain(pointer);
    }
    const unknownParameter = await list(tenant, token, event.id, '?eventId=1');
    expect(unknownParameter.status).toBe(400);
    expect((await list(tenant, token, 'not-a-uuid')).status).toBe(400);
  });
});

describe('GraphQL eventAttendees', () => {
  const QUERY = `query Door($eventId: ID!, $q: String, $checkedIn: Boolean, $first: Int, $after: String) {
    eventAttendees(eventId: $eventId, q: $q, checkedIn: $checkedIn, first: $first, after: $after) {
      nodes { id name ticketCode status checkedIn checkedInAt ticketType { id name } booking { id status } }
      pageInfo { hasNextPage endCursor }
    }
  }`;
  interface Answer {
    eventAttendees: {
      nodes: (Pick<EventAttendeeResponse, 'id' | 'name' | 'ticketCode' | 'status' | 'checkedIn' | 'checkedInAt'> & {
        ticketType: { id: string; name: string };
        booking: { id: string; status: string };
      })[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    } | null;
  }

  it('serves the REST list through the same service: search, check-in state, pages, one round trip', async () => {
    const { tenant, token, event, pair, general } = await setup();
    const grace = ticketOf(pair, 0);
    const scan = await call(tenant, 'POST', '/api/v1/check-ins', { token, body: { ticketCode: grace.ticketCode } });
    expect(scan.status).toBe(200);
    const { checkedInAt } = await scan.json<CheckInResultResponse>();
    const requestId = newRequestId();
    const searched = await graphqlClient(tenant, token, { 'x-request-id': requestId }).rawRequest<Answer>(QUERY, {
      eventId: event.id,
      q: 'hopper',
      checkedIn: true,
    });
    expect(searched.errors).toBeUndefined();
    expect(searched.data.eventAttendees?.nodes).toEqual([
      {
        id: grace.id,
        name: 'Grace Hopper',
        ticketCode: grace.ticketCode,
        status: 'valid',
        checkedIn: true,
        checkedInAt,
        ticketType: { id: general.id, name: 'General' },
        booking: { id: pair.id, status: 'confirmed' },
      },
    ]);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });

    // Pages as REST does: the REST page order, the cursor as endCursor.
    const rest = await page(tenant, token, event.id);
    const client = graphqlClient(tenant, token);
    const first = await client.rawRequest<Answer>(QUERY, { eventId: event.id, first: 2 });
    expect(first.data.eventAttendees?.pageInfo.hasNextPage).toBe(true);
    const second = await client.rawRequest<Answer>(QUERY, {
      eventId: event.id,
      first: 2,
      after: first.data.eventAttendees?.pageInfo.endCursor,
    });
    expect(second.data.eventAttendees?.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
    expect(
      [...(first.data.eventAttendees?.nodes ?? []), ...(second.data.eventAttendees?.nodes ?? [])].map(
        (node) => node.id,
      ),
    ).toEqual(rest.data.map((attendee) => attendee.id));
  });

  it('reads an unknown or foreign event as null, refuses a role without bookings:read, checks arguments', async () => {
    const { tenant, token } = await setup();
    const other = await setup();
    const client = graphqlClient(tenant, token);
    for (const eventId of [other.event.id, crypto.randomUUID(), 'not-a-uuid']) {
      const answer = await client.rawRequest<Answer>(QUERY, { eventId });
      expect(answer.errors).toBeUndefined();
      expect(answer.data.eventAttendees).toBeNull();
    }
    const codes = (errors: GraphqlError[] | undefined) => errors?.map((error) => error.extensions?.code);
    const member = await memberWithToken(tenant, 'member');
    const refused = await graphqlClient(tenant, member.token).rawRequest<Answer>(QUERY, { eventId: other.event.id });
    expect(codes(refused.errors as GraphqlError[] | undefined)).toEqual(['forbidden']);
    const tooMany = await client.rawRequest<Answer>(QUERY, { eventId: other.event.id, first: 101 });
    const errors = tooMany.errors as GraphqlError[] | undefined;
    expect(codes(errors)).toEqual(['validation_failed']);
    expect(errors?.[0]?.extensions?.errors?.[0]?.pointer).toBe('/args/limit');
  });
});
