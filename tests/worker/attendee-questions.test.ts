import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { attendees, bookings, outbox } from '../../src/db/schema/index.ts';
import type { PublicEventDetailResponse } from '../../src/routes/public/schema.ts';
import { auditRows } from '../support/auth.ts';
import { book, checkout } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic, publicJson } from '../support/catalogue.ts';
import { createTenant, database, newRequestId, problem, roundTrips, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

type Question = Record<string, unknown>;

async function addQuestion(tenant: TestTenant, token: string, eventId: string, body: Question): Promise<Question> {
  const response = await call(tenant, 'POST', `/api/v1/events/${eventId}/questions`, { token, body });
  if (response.status !== 201) throw new Error(`question: ${response.status} ${await response.text()}`);
  return response.json();
}

/** A free event with two ticket types and one question of each type (all optional, bounded where it matters). */
async function setup() {
  const tenant = await createTenant();
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const general = await createTicketType(event, { name: 'General', price: 0 });
  const vip = await createTicketType(event, { name: 'VIP', price: 0 });
  const questions: Question[] = [
    { key: 'company', label: 'Company', type: 'text', maximum: 10 },
    { key: 'bio', label: 'Bio', type: 'long_text' },
    { key: 'age', label: 'Age', type: 'number', minimum: 18, maximum: 120 },
    { key: 'tshirt', label: 'T-shirt', type: 'choice', options: ['S', 'M', 'L'] },
    { key: 'talks', label: 'Talks', type: 'multi_choice', options: ['a', 'b', 'c'], maximum: 2 },
    { key: 'newsletter', label: 'Newsletter', type: 'checkbox' },
    { key: 'birthday', label: 'Birthday', type: 'date' },
    { key: 'work_email', label: 'Work email', type: 'email' },
    { key: 'phone', label: 'Phone', type: 'phone' },
    { key: 'country', label: 'Country', type: 'country' },
  ];
  for (const [position, question] of questions.entries()) {
    await addQuestion(tenant, token, event.id, { ...question, position });
  }
  return { tenant, token, event, general, vip };
}

function withAnswers(ticketTypeId: string, answers: Record<string, unknown>[]) {
  return {
    items: [
      {
        ticketTypeId,
        quantity: answers.length,
        attendees: answers.map((a, index) => ({
          name: `Guest ${index}`,
          email: `guest${index}@example.com`,
          answers: a,
        })),
      },
    ],
  };
}

let shared: ReturnType<typeof setup> | undefined;

describe('attendee questions', () => {
  it('accepts a valid answer of each type, stored typed, with the checkout still 1 + 1 round trips', async () => {
    const { tenant, event, general } = await setup();
    // Warm the tenant resolution so the traced checkout is the steady state.
    await checkout(tenant, event.slug, { items: [] });
    const answers = {
      company: 'Acme',
      bio: 'x'.repeat(1500),
      age: 42,
      tshirt: 'M',
      talks: ['a', 'c'],
      newsletter: true,
      birthday: '1990-02-28',
      work_email: 'ada@acme.example',
      phone: '+351912345678',
      country: 'PT',
    };
    const requestId = newRequestId();
    const response = await checkout(tenant, event.slug, withAnswers(general.id, [answers, {}]), {
      headers: { 'x-request-id': requestId },
    });
    expect(response.status).toBe(201);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const booking = await response.json<{ id: string }>();
    const rows = await database()
      .select({ answers: attendees.answers })
      .from(attendees)
      .where(eq(attendees.bookingId, booking.id))
      .orderBy(attendees.position);
    expect(rows.map((row) => row.answers)).toEqual([answers, {}]);
  });

  it.each([
    ['company', 'far too long for ten', 'text'],
    ['company', 12, 'text'],
    ['bio', 'x'.repeat(2001), 'long_text'],
    ['age', 17, 'number'],
    ['age', '42', 'number'],
    ['tshirt', 'XL', 'choice'],
    ['talks', ['a', 'd'], 'multi_choice'],
    ['talks', ['a', 'a'], 'multi_choice'],
    ['talks', ['a', 'b', 'c'], 'multi_choice'],
    ['talks', 'a', 'multi_choice'],
    ['newsletter', 'yes', 'checkbox'],
    ['birthday', '1990-02-30', 'date'],
    ['birthday', '2023-02-29', 'date'],
    ['birthday', '02/03/1990', 'date'],
    ['work_email', 'not-an-email', 'email'],
    ['phone', '912 345 678', 'phone'],
    ['phone', '+0123456789', 'phone'],
    ['country', 'XX', 'country'],
    ['country', 'pt', 'country'],
  ] as [string, unknown, string][])(
    'refuses a bad %s answer (case %#) with a 400 at the exact answer',
    async (key, value) => {
      const { tenant, event, general } = await (shared ??= setup());
      const response = await checkout(tenant, event.slug, withAnswers(general.id, [{}, { [key]: value }]));
      expect(response.status).toBe(400);
      const body = await problem(response);
      expect(body.errors).toEqual([expect.objectContaining({ pointer: `/body/items/0/attendees/1/answers/${key}` })]);
      const written = await database().select({ id: bookings.id }).from(bookings).where(eq(bookings.eventId, event.id));
      expect(written).toEqual([]);
    },
  );

  it('accepts a leap day, refuses unknown keys and archived questions, and checks required ones', async () => {
    const { tenant, token, event, general } = await setup();
    expect((await checkout(tenant, event.slug, withAnswers(general.id, [{ birthday: '2024-02-29' }]))).status).toBe(
      201,
    );
    const unknown = await checkout(tenant, event.slug, withAnswers(general.id, [{ company: 'A', shoe: '42' }]));
    expect(unknown.status).toBe(400);
    expect((await problem(unknown)).errors).toEqual([
      { pointer: '/body/items/0/attendees/0/answers/shoe', message: 'not a question of this event for this ticket' },
    ]);

    const required = await addQuestion(tenant, token, event.id, {
      key: 'diet',
      label: 'Diet',
      type: 'choice',
      options: ['none', 'vegan'],
      required: true,
    });
    const missing = await checkout(tenant, event.slug, withAnswers(general.id, [{ diet: 'vegan' }, {}]));
    expect(missing.status).toBe(400);
    expect((await problem(missing)).errors).toEqual([
      { pointer: '/body/items/0/attendees/1/answers/diet', message: 'this question must be answered' },
    ]);
    // Without attendees listed, the required answers are missing for the item.
    const noAttendees = await checkout(tenant, event.slug, { items: [{ ticketTypeId: general.id, quantity: 1 }] });
    expect(noAttendees.status).toBe(400);
    expect((await problem(noAttendees)).errors?.[0]?.pointer).toBe('/body/items/0/attendees');

    // Archived: no longer asked (not required) nor accepted.
    const archived = await call(tenant, 'PATCH', `/api/v1/events/${event.id}/questions/${String(required.id)}`, {
      token,
      body: { archived: true },
    });
    expect(archived.status).toBe(200);
    expect(await archived.json()).toMatchObject({ key: 'diet', archived: true });
    expect((await checkout(tenant, event.slug, { items: [{ ticketTypeId: general.id, quantity: 1 }] })).status).toBe(
      201,
    );
    const stale = await checkout(tenant, event.slug, withAnswers(general.id, [{ diet: 'vegan' }]));
    expect((await problem(stale)).errors?.[0]?.pointer).toBe('/body/items/0/attendees/0/answers/diet');
  });

  it('scopes a question to one ticket type, and checks booking-level questions at /body/answers', async () => {
    const { tenant, token, event, general, vip } = await setup();
    await addQuestion(tenant, token, event.id, {
      key: 'plus_one',
      label: 'Plus one',
      type: 'text',
      required: true,
      ticketTypeId: vip.id,
    });
    await addQuestion(tenant, token, event.id, { key: 'invoice_vat', label: 'VAT', type: 'text', level: 'booking' });
    // General tickets are not asked the VIP question, and may not answer it.
    expect((await checkout(tenant, event.slug, withAnswers(general.id, [{}]))).status).toBe(201);
    const foreign = await checkout(tenant, event.slug, withAnswers(general.id, [{ plus_one: 'Bob' }]));
    expect((await problem(foreign)).errors?.[0]?.pointer).toBe('/body/items/0/attendees/0/answers/plus_one');
    const vipMissing = await checkout(tenant, event.slug, withAnswers(vip.id, [{}]));
    expect((await problem(vipMissing)).errors?.[0]).toMatchObject({
      pointer: '/body/items/0/attendees/0/answers/plus_one',
      message: 'this question must be answered',
    });
    const vipBooking = await book(tenant, event.slug, {
      ...withAnswers(vip.id, [{ plus_one: 'Bob' }]),
      answers: { invoice_vat: 'PT123' },
    });
    expect((await database().select().from(bookings).where(eq(bookings.id, vipBooking.id)))[0]?.answers).toEqual({
      invoice_vat: 'PT123',
    });
    // A booking question is not an attendee answer, and an attendee question not a booking answer.
    const misplaced = await checkout(tenant, event.slug, {
      ...withAnswers(general.id, [{ invoice_vat: 'x' }]),
    });
    expect((await problem(misplaced)).errors?.[0]?.pointer).toBe('/body/items/0/attendees/0/answers/invoice_vat');
    const misplacedBooking = await checkout(tenant, event.slug, {
      ...withAnswers(general.id, [{}]),
      answers: { company: 'Acme' },
    });
    expect((await problem(misplacedBooking)).errors?.[0]?.pointer).toBe('/body/answers/company');
  });

  it('lists the questions on the public event page and refreshes the cached page when they change', async () => {
    const { tenant, token, event, vip } = await setup();
    await createTicketType(event, { name: 'Hidden', hidden: true, accessCode: 'SECRET', price: 0 }).then((hidden) =>
      addQuestion(tenant, token, event.id, { key: 'secret_q', label: 'Secret', type: 'text', ticketTypeId: hidden.id }),
    );
    await addQuestion(tenant, token, event.id, {
      key: 'vip_only',
      label: 'VIP',
      type: 'checkbox',
      ticketTypeId: vip.id,
      position: 20,
    });
    const path = `/api/v1/public/events/${event.slug}`;
    const page = await publicJson<PublicEventDetailResponse>(await getPublic(tenant, path));
    expect(page.questions.map((q) => q.key)).toEqual([
      'company',
      'bio',
      'age',
      'tshirt',
      'talks',
      'newsletter',
      'birthday',
      'work_email',
      'phone',
      'country',
      'vip_only',
    ]);
    expect(page.questions.find((q) => q.key === 'tshirt')).toEqual({
      key: 'tshirt',
      label: 'T-shirt',
      type: 'choice',
      level: 'attendee',
      ticketTypeId: null,
      required: false,
      options: ['S', 'M', 'L'],
      minimum: null,
      maximum: null,
    });
    const unlocked = await publicJson<PublicEventDetailResponse>(await getPublic(tenant, `${path}?accessCode=SECRET`));
    expect(unlocked.questions.map((q) => q.key)).toContain('secret_q');

    // A change emits event.updated (what invalidates the edge cache), and the next reads show it.
    const listed = await call(tenant, 'GET', `/api/v1/events/${event.id}/questions`, { token });
    const company = (await listed.json<{ data: Question[] }>()).data.find((q) => q.key === 'company');
    const relabel = await call(tenant, 'PATCH', `/api/v1/events/${event.id}/questions/${String(company?.id)}`, {
      token,
      body: { label: 'Organisation', required: true },
    });
    expect(relabel.status).toBe(200);
    const events = await database()
      .select({ type: outbox.type })
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'event.updated')));
    // One per question written: 10 in setup, 2 here, the relabel.
    expect(events).toHaveLength(13);
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const fresh = await publicJson<PublicEventDetailResponse>(await getPublic(tenant, path));
      if (fresh.questions[0]?.label === 'Organisation') {
        expect(fresh.questions[0]).toMatchObject({ key: 'company', required: true });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the public page never showed the changed question');
  });

  it('manages questions: validation, key conflicts, permissions, audit, cross-tenant 404', async () => {
    const { tenant, token, event } = await setup();
    const other = await createTenant();
    const { token: otherToken } = await memberWithToken(other, 'organizer');
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const base = `/api/v1/events/${event.id}/questions`;

    const noOptions = await call(tenant, 'POST', base, { token, body: { key: 'pick', label: 'Pick', type: 'choice' } });
    expect((await problem(noOptions)).errors?.[0]?.pointer).toBe('/body/options');
    const badKey = await call(tenant, 'POST', base, { token, body: { key: 'Bad Key', label: 'X', type: 'text' } });
    expect((await problem(badKey)).errors?.[0]?.pointer).toBe('/body/key');
    const bounds = await call(tenant, 'POST', base, {
      token,
      body: { key: 'n', label: 'N', type: 'number', minimum: 5, maximum: 1 },
    });
    expect((await problem(bounds)).errors?.[0]?.pointer).toBe('/body/maximum');
    const foreignType = await call(tenant, 'POST', base, {
      token,
      body: { key: 'scoped', label: 'S', type: 'text', ticketTypeId: crypto.randomUUID() },
    });
    expect((await problem(foreignType)).errors?.[0]?.pointer).toBe('/body/ticketTypeId');
    const duplicate = await call(tenant, 'POST', base, { token, body: { key: 'company', label: 'C', type: 'text' } });
    expect(duplicate.status).toBe(409);

    expect(
      (await call(tenant, 'POST', base, { token: staffToken, body: { key: 'x', label: 'X', type: 'text' } })).status,
    ).toBe(403);
    expect((await call(tenant, 'GET', base, { token: staffToken })).status).toBe(200);
    expect((await call(other, 'GET', base, { token: otherToken })).status).toBe(404);
    expect(
      (await call(other, 'POST', base, { token: otherToken, body: { key: 'x', label: 'X', type: 'text' } })).status,
    ).toBe(404);
    const listed = await (await call(tenant, 'GET', base, { token })).json<{ data: Question[] }>();
    expect(listed.data).toHaveLength(10);
    const first = listed.data[0];
    expect(
      (await call(other, 'PATCH', `${base}/${String(first?.id)}`, { token: otherToken, body: { label: 'Hijack' } }))
        .status,
    ).toBe(404);
    expect(
      (await call(tenant, 'PATCH', `${base}/${crypto.randomUUID()}`, { token, body: { label: 'X' } })).status,
    ).toBe(404);
    expect(await auditRows(tenant.organization.id, 'question.created')).toHaveLength(10);
  });

  it('lets staff edit answers, validated the same way, keeping archived answers, audited, 404 across tenants', async () => {
    const { tenant, token, event, general } = await setup();
    const legacy = await addQuestion(tenant, token, event.id, { key: 'legacy', label: 'Old', type: 'text' });
    const booking = await book(tenant, event.slug, withAnswers(general.id, [{ company: 'Acme', legacy: 'kept' }]));
    await call(tenant, 'PATCH', `/api/v1/events/${event.id}/questions/${String(legacy.id)}`, {
      token,
      body: { archived: true },
    });
    const attendeeId = booking.attendees[0]?.id ?? '';
    const path = `/api/v1/bookings/${booking.id}/attendees/${attendeeId}/answers`;

    const bad = await call(tenant, 'PATCH', path, { token, body: { answers: { age: 3 } } });
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors).toEqual([
      { pointer: '/body/answers/age', message: 'must be a number within the bounds' },
    ]);
    const requestId = newRequestId();
    const ok = await call(tenant, 'PATCH', path, {
      token,
      body: { answers: { company: 'Globex', country: 'DE' } },
      headers: { 'x-request-id': requestId },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ answers: { company: 'Globex', country: 'DE', legacy: 'kept' } });
    expect((await roundTrips(requestId)).database).toBe(1);
    expect(await auditRows(tenant.organization.id, 'attendee.answers_updated')).toHaveLength(1);
    // One attendee.updated webhook event (the refused edit wrote none), carrying the booking as it is now.
    const published = await database()
      .select()
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'attendee.updated')));
    expect(published).toHaveLength(1);
    const data = published[0]?.payload.data as { id: string; attendees: { id: string; answers: unknown }[] };
    expect(data.id).toBe(booking.id);
    expect(data.attendees.find((ticket) => ticket.id === attendeeId)?.answers).toEqual({
      company: 'Globex',
      country: 'DE',
      legacy: 'kept',
    });

    // The staff booking view shows them.
    const view = await call(tenant, 'GET', `/api/v1/bookings/${booking.id}`, { token });
    expect((await view.json<{ attendees: { answers: unknown }[] }>()).attendees[0]?.answers).toEqual({
      company: 'Globex',
      country: 'DE',
      legacy: 'kept',
    });

    const other = await createTenant();
    const { token: otherToken } = await memberWithToken(other, 'organizer');
    expect((await call(other, 'PATCH', path, { token: otherToken, body: { answers: {} } })).status).toBe(404);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    expect((await call(tenant, 'PATCH', path, { token: staffToken, body: { answers: {} } })).status).toBe(403);
    const wrongAttendee = `/api/v1/bookings/${booking.id}/attendees/${crypto.randomUUID()}/answers`;
    expect((await call(tenant, 'PATCH', wrongAttendee, { token, body: { answers: {} } })).status).toBe(404);
  });
});
