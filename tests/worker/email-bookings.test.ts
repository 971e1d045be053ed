import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import type { QueueMessage } from '../../src/queues/messages.ts';
import {
  bookingQueries,
  toBookingView,
  type BookingRows,
  type BookingView,
} from '../../src/services/bookings/views.ts';
import { formatEventTime, formatMoney } from '../../src/services/email/format.ts';
import type { EmailMessage } from '../../src/services/email/messages.ts';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { createMember, createTenant, database, type TestTenant } from '../support/harness.ts';
import { mailbox } from '../support/users.ts';

const EVIL_BUYER = '<script>alert("x")</script> Ada & Co';
const STARTS_AT = new Date('2030-12-05T18:00:00Z'); // 19:00 in Berlin (CET)

function envelope(type: string, id: string, payload: unknown, organizationId: string | null): QueueMessage {
  return { id, type, organizationId, payload, createdAt: new Date().toISOString() };
}

/** Runs the Worker's queue handler on one batch of the local email queue, as the runtime would deliver it. */
async function deliver(bodies: unknown[], attempts = 1) {
  const batch = createMessageBatch(
    'eventra-email-local',
    bodies.map((body, index) => ({ id: `msg-${index}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env as unknown as Record<string, unknown>, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ids: batch.messages.map((message) => message.id), result };
}

async function bookingView(tenant: TestTenant, bookingId: string): Promise<BookingView> {
  const db = database();
  const rows = (await db.batch(bookingQueries(db, tenant.organization.id, bookingId))) as unknown as BookingRows;
  const view = toBookingView(rows);
  if (!view) throw new Error('booking not found');
  return view;
}

/** The captured messages of `to` with this id (the outbox may also email the same buyer independently). */
async function messagesWithId(to: string, id: string): Promise<EmailMessage[]> {
  return (await mailbox(to)).filter((message) => message.id === id);
}

describe('booking emails (email.event)', () => {
  let tenant: TestTenant;
  let view: BookingView;
  let buyerEmail: string;
  let eventTitle: string;
  let eventSlug: string;

  beforeAll(async () => {
    tenant = await createTenant({
      branding: { displayName: 'Gala & Friends', emailSenderName: 'Gala Tickets', primaryColor: '#aa3300' },
    });
    eventTitle = 'Winter <Gala>';
    const event = await createEvent(tenant, {
      title: eventTitle,
      startsAt: STARTS_AT,
      endsAt: new Date(STARTS_AT.getTime() + 3 * 3_600_000),
      timezone: 'Europe/Berlin',
      venue: { name: 'Opera House', city: 'Berlin', country: 'DE' },
    });
    eventSlug = event.slug;
    const free = await createTicketType(event, { name: 'Standing', price: 0 });
    buyerEmail = `buyer-${crypto.randomUUID().slice(0, 12)}@example.test`;
    const created = await book(tenant, event.slug, {
      buyer: { name: EVIL_BUYER, email: buyerEmail },
      items: [
        {
          ticketTypeId: free.id,
          quantity: 2,
          attendees: [
            { name: EVIL_BUYER, email: buyerEmail },
            { name: 'Bob <b>Builder</b>', email: 'bob@example.test' },
          ],
        },
      ],
    });
    expect(created.status).toBe('confirmed');
    view = await bookingView(tenant, created.id);
    expect(view.attendees).toHaveLength(2);
  });

  it('confirms a booking to the buyer with every ticket code, the branding and the event time in its timezone', async () => {
    const id = `email:${crypto.randomUUID()}`;
    const payload = { type: 'booking.confirmed', timestamp: new Date().toISOString(), data: view };
    const { ids, result } = await deliver([envelope('email.event', id, payload, tenant.organization.id)]);
    expect(result.explicitAcks).toEqual(ids);

    const [message, ...more] = await messagesWithId(buyerEmail, id);
    expect(more).toEqual([]);
    if (!message) throw new Error('no confirmation email');
    expect(message.to).toBe(buyerEmail);
    expect(message.fromName).toBe('Gala Tickets');
    expect(message.subject).toBe('Your tickets for Winter <Gala>');
    for (const attendee of view.attendees) {
      expect(message.text).toContain(attendee.ticketCode);
      expect(message.html).toContain(attendee.ticketCode);
    }
    expect(message.text).toContain(`${EVIL_BUYER} (Standing): ${view.attendees[0]?.ticketCode}`);
    expect(message.text).toContain('When: Thursday, December 5, 2030 at 19:00 GMT+1 (Europe/Berlin)');
    expect(message.text).toContain('Where: Opera House, Berlin, DE');
    expect(message.text).toContain('Total: Free');
    expect(message.text).toContain(`Booking: ${view.id}`);
    expect(message.text).toContain('Online: https://meet.example.com/secret-room');
    // The join link, then "Add to calendar": the event's public file on the organization's host (no secret in it).
    const calendarLink = `http://${tenant.host}/api/v1/public/events/${eventSlug}/calendar.ics`;
    expect(message.links).toEqual(['https://meet.example.com/secret-room', calendarLink]);
    expect(message.text).toContain(`Add to calendar: ${calendarLink}`);
    // Branding: the organization's color and display name (escaped like everything else in the HTML).
    expect(message.html).toContain('#aa3300');
    expect(message.html).toContain('Gala &amp; Friends');
    expect(message.text).toContain('-- Gala & Friends');
    // Names are the buyer's text: escaped in the HTML, never markup.
    expect(message.html).not.toContain('<script>');
    expect(message.html).not.toContain('<b>Builder');
    expect(message.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Ada &amp; Co');
    expect(message.html).toContain('Bob &lt;b&gt;Builder&lt;/b&gt;');
    expect(message.html).toContain('Winter &lt;Gala&gt;');
  });

  it('sends one confirmation however often the event is delivered', async () => {
    const id = `email:${crypto.randomUUID()}`;
    const body = envelope(
      'email.event',
      id,
      { type: 'booking.confirmed', timestamp: new Date().toISOString(), data: view },
      tenant.organization.id,
    );
    const first = await deliver([body, body]);
    expect(first.result.explicitAcks.sort()).toEqual([...first.ids].sort());
    const again = await deliver([body], 4);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect(await messagesWithId(buyerEmail, id)).toHaveLength(1);
  });

  it('tells the buyer a booking was cancelled, listing the tickets that are no longer valid', async () => {
    const id = `email:${crypto.randomUUID()}`;
    const cancelled = {
      ...view,
      status: 'cancelled',
      attendees: view.attendees.map((attendee) => ({ ...attendee, status: 'cancelled' })),
    };
    await deliver([
      envelope(
        'email.event',
        id,
        { type: 'booking.cancelled', timestamp: new Date().toISOString(), data: cancelled },
        tenant.organization.id,
      ),
    ]);
    const [message] = await messagesWithId(buyerEmail, id);
    if (!message) throw new Error('no cancellation email');
    expect(message.subject).toBe('Your booking for Winter <Gala> was cancelled');
    expect(message.text).toContain('was cancelled. Its tickets are no longer valid.');
    expect(message.text).toContain('Cancelled tickets:');
    for (const attendee of view.attendees) expect(message.text).toContain(attendee.ticketCode);
    // The online room is for ticket holders only.
    expect(message.text).not.toContain('meet.example.com');
    expect(message.html).not.toContain('<script>');
  });

  it('tells the buyer how much was refunded, formatted from minor units in the booking currency', async () => {
    const id = `email:${crypto.randomUUID()}`;
    const [first, second] = view.attendees;
    if (!first || !second) throw new Error('two attendees expected');
    const refunded = {
      ...view,
      status: 'confirmed',
      total: 3000,
      currency: 'EUR',
      refundedAmount: 1500,
      refunds: [
        { id: crypto.randomUUID(), amount: 1000, currency: 'EUR', status: 'succeeded', reason: null, attendeeIds: [] },
        {
          id: crypto.randomUUID(),
          amount: 500,
          currency: 'EUR',
          status: 'succeeded',
          reason: null,
          attendeeIds: [second.id],
        },
      ],
      attendees: [first, { ...second, status: 'cancelled' }],
    };
    await deliver([
      envelope(
        'email.event',
        id,
        { type: 'booking.refunded', timestamp: new Date().toISOString(), data: refunded },
        tenant.organization.id,
      ),
    ]);
    const [message] = await messagesWithId(buyerEmail, id);
    if (!message) throw new Error('no refund email');
    expect(message.subject).toBe('Refund for your booking for Winter <Gala>');
    expect(message.text).toContain('We refunded €5.00 of your booking for Winter <Gala>.');
    expect(message.text).toContain('Refunded so far: €15.00 of €30.00.');
    expect(message.text).toContain(`Cancelled tickets:\n- Bob <b>Builder</b> (Standing): ${second.ticketCode}`);
    expect(message.text).toContain(`Your remaining tickets:\n- ${EVIL_BUYER} (Standing): ${first.ticketCode}`);
    expect(message.html).toContain('€5.00');
    expect(message.html).not.toContain('<b>Builder');
  });

  it('goes through the local email queue end to end (as the outbox dispatcher sends it)', async () => {
    const id = `email:${crypto.randomUUID()}`;
    const queue = readBindings(env as unknown as Record<string, unknown>).EMAIL_QUEUE;
    await queue.send(
      envelope(
        'email.event',
        id,
        { type: 'booking.confirmed', timestamp: new Date().toISOString(), data: view },
        tenant.organization.id,
      ),
      { contentType: 'json' },
    );
    // The local consumer runs in this runtime: poll the dev mailbox until the message arrived.
    const started = Date.now();
    let messages = await messagesWithId(buyerEmail, id);
    while (messages.length === 0 && Date.now() - started < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      messages = await messagesWithId(buyerEmail, id);
    }
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toBe('Your tickets for Winter <Gala>');
  });

  it('retries, without sending, an event payload it cannot render or an envelope without organization', async () => {
    const ids = [`email:${crypto.randomUUID()}`, `email:${crypto.randomUUID()}`, `email:${crypto.randomUUID()}`];
    const timestamp = new Date().toISOString();
    const { result } = await deliver([
      envelope('email.event', ids[0] ?? '', { type: 'booking.created', timestamp, data: view }, tenant.organization.id),
      envelope(
        'email.event',
        ids[1] ?? '',
        { type: 'booking.confirmed', timestamp, data: { ...view, attendees: 'none' } },
        tenant.organization.id,
      ),
      envelope('email.event', ids[2] ?? '', { type: 'booking.confirmed', timestamp, data: view }, null),
    ]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(3);
    const received = await mailbox(buyerEmail);
    expect(received.filter((message) => ids.includes(message.id))).toEqual([]);
  });

  it('shows a crafted buyer name only as capped, labelled data: never as the greeting or in the subject', async () => {
    const crafted =
      'Your account is suspended.\nCall +1 555 0100 now or visit https://evil.example/claim to keep your tickets';
    const to = `crafted-${crypto.randomUUID().slice(0, 12)}@example.test`;
    const data = { ...view, buyer: { name: crafted, email: to } };
    const id = `email:${crypto.randomUUID()}`;
    const payload = { type: 'booking.confirmed', timestamp: new Date().toISOString(), data };
    const { ids, result } = await deliver([envelope('email.event', id, payload, tenant.organization.id)]);
    expect(result.explicitAcks).toEqual(ids);
    const [message] = await messagesWithId(to, id);
    if (!message) throw new Error('no confirmation email');
    expect(message.text.startsWith('Hello,\n')).toBe(true);
    expect(message.subject).not.toContain('suspended');
    expect(message.text).not.toContain('https://evil.example/claim');
    expect(message.text).not.toContain('\nCall +1');
    const shown = `${'Your account is suspended. Call +1 555 0100 now or visit htt'.slice(0, 59)}…`;
    expect(message.text).toContain(`Name on the booking: ${shown}`);
    expect(message.html).toContain(shown);
  });

  it('drops booking mails to one recipient beyond 10 an hour per organization, acknowledging them', async () => {
    const to = `flooded-${crypto.randomUUID().slice(0, 12)}@example.test`;
    const data = { ...view, buyer: { name: 'Flood', email: to } };
    const timestamp = new Date().toISOString();
    const bodies = Array.from({ length: 12 }, () =>
      envelope(
        'email.event',
        `email:${crypto.randomUUID()}`,
        { type: 'booking.confirmed', timestamp, data },
        tenant.organization.id,
      ),
    );
    const { ids, result } = await deliver(bodies);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(await mailbox(to)).toHaveLength(10);
    // A redelivery of a dropped message stays dropped: acknowledged, never sent.
    const again = await deliver(bodies.slice(10));
    expect(again.result.explicitAcks.sort()).toEqual([...again.ids].sort());
    expect(await mailbox(to)).toHaveLength(10);
  });

  it('caps the booking mail one address receives from the whole platform at 30 a day, across organizations, apart from its account mail', async () => {
    const to = `platform-${crypto.randomUUID().slice(0, 12)}@example.test`;
    const data = { ...view, buyer: { name: 'Many', email: to } };
    const timestamp = new Date().toISOString();
    const tenants = [tenant, await createTenant(), await createTenant(), await createTenant()];
    for (const sender of tenants) {
      const bodies = Array.from({ length: 10 }, () =>
        envelope(
          'email.event',
          `email:${crypto.randomUUID()}`,
          { type: 'booking.confirmed', timestamp, data },
          sender.organization.id,
        ),
      );
      const { ids, result } = await deliver(bodies);
      expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    }
    expect(await mailbox(to)).toHaveLength(30);
    // The flood of booking mail does not use up the address's account mail: its own password reset still arrives.
    const reset: EmailMessage = {
      id: `email:${crypto.randomUUID()}`,
      to,
      fromName: 'Acme Tickets',
      subject: 'Reset your password',
      text: 'Open: https://acme.localhost/reset-password?token=abc',
      html: '<p>Open the link</p>',
      links: ['https://acme.localhost/reset-password?token=abc'],
    };
    await deliver([envelope('email.send', reset.id, reset, tenant.organization.id)]);
    expect(await mailbox(to)).toHaveLength(31);
  });
});

describe('webhook disabled notice (email.webhook_disabled)', () => {
  it('emails each active owner of the organization once, and nobody else', async () => {
    const tenant = await createTenant({ branding: { displayName: 'Hooks Inc', primaryColor: '#123456' } });
    const other = await createTenant();
    const owners = [await createMember(tenant, 'owner'), await createMember(tenant, 'owner')];
    const disabledOwner = await createMember(tenant, 'owner', { status: 'disabled' });
    const invitedOwner = await createMember(tenant, 'owner', { status: 'invited' });
    const admin = await createMember(tenant, 'admin');
    const otherOwner = await createMember(other, 'owner');

    const endpointId = crypto.randomUUID();
    const id = `endpoint-disabled:${endpointId}:${new Date().toISOString()}`; // as the webhook dispatcher names it
    const body = envelope(
      'email.webhook_disabled',
      id,
      { endpointId, url: 'https://hooks.example.test/<in>?a=1&b=2', reason: 'Every delivery failed for 3 days.' },
      tenant.organization.id,
    );
    const first = await deliver([body]);
    expect(first.result.explicitAcks).toEqual(first.ids);
    const again = await deliver([body], 2);
    expect(again.result.explicitAcks).toEqual(again.ids);

    for (const owner of owners) {
      const messages = await mailbox(owner.email);
      expect(messages).toHaveLength(1);
      const [message] = messages;
      expect(message?.id).toBe(`${id}:${owner.userId}`);
      expect(message?.subject).toBe('A webhook endpoint of Hooks Inc was disabled');
      expect(message?.text).toContain(`https://hooks.example.test/<in>?a=1&b=2 (${endpointId}) was disabled`);
      expect(message?.html).toContain('https://hooks.example.test/&lt;in&gt;?a=1&amp;b=2');
      expect(message?.text).toContain('Reason: Every delivery failed for 3 days.');
      expect(message?.html).toContain('#123456');
    }
    for (const member of [disabledOwner, invitedOwner, admin, otherOwner]) {
      expect(await mailbox(member.email)).toEqual([]);
    }
  });

  it('retries an invalid notice without sending', async () => {
    const tenant = await createTenant();
    const owner = await createMember(tenant, 'owner');
    const { result } = await deliver([
      envelope(
        'email.webhook_disabled',
        `webhook-disabled:${crypto.randomUUID()}`,
        { url: 42 },
        tenant.organization.id,
      ),
    ]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    expect(await mailbox(owner.email)).toEqual([]);
  });
});

describe('email formatting', () => {
  it('formats minor units with the currency’s own decimals', () => {
    expect(formatMoney(1500, 'EUR')).toBe('€15.00');
    expect(formatMoney(5000, 'JPY')).toBe('¥5,000');
    expect(formatMoney(12345, 'KWD')).toBe('KWD\u00a012.345'); // three decimals, a no-break space
    expect(formatMoney(250, 'XYZ1')).toBe('2.50 XYZ1');
  });

  it('presents an instant in the given timezone, falling back to UTC for an unknown zone', () => {
    expect(formatEventTime(STARTS_AT, 'America/New_York')).toBe('Thursday, December 5, 2030 at 13:00 EST');
    expect(formatEventTime(STARTS_AT, 'Not/AZone')).toBe('Thursday, December 5, 2030 at 18:00 UTC');
  });
});
