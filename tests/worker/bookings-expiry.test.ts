import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, bookings, payments } from '../../src/db/schema/index.ts';
import { book, bookingRow, checkout, counters, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { createTenant, database, problem } from '../support/harness.ts';
import { runCron } from '../support/cron.ts';

async function lapse(bookingId: string): Promise<void> {
  await database()
    .update(bookings)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(bookings.id, bookingId));
}

describe('hold expiry (scheduled sweep)', () => {
  it('expires a lapsed pending booking and puts its seats back on sale', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant);
    const seats = await createTicketType(event, { price: 2000, quantity: 2 });
    const held = await book(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: 2 }] });
    expect(held.expiresAt).not.toBeNull();
    const soldOut = await checkout(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: 1 }] });
    expect((await problem(soldOut)).code).toBe('sold_out');

    await lapse(held.id);
    await runCron();

    expect(await bookingRow(tenant, held.id)).toMatchObject({ status: 'expired' });
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [seats.id]: { sold: 0, held: 0 } },
    });
    const [payment] = await database().select().from(payments).where(eq(payments.bookingId, held.id));
    expect(payment?.status).toBe('cancelled');
    const audits = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.targetId, held.id), eq(auditLogs.action, 'booking.expired')));
    expect(audits).toHaveLength(1);
    expect(audits[0]?.actorType).toBe('system');
    // The seats are on sale again.
    await book(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: 2 }] });

    // A second run changes nothing more.
    await runCron();
    expect((await counters(event.id)).ticketTypes[seats.id]).toEqual({ sold: 0, held: 2 });
  });

  it('leaves holds that have not lapsed and confirmed bookings alone', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { price: 2000, quantity: 5 });
    const free = await createTicketType(event, { price: 0, quantity: 5 });
    const pending = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const confirmed = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    await database()
      .update(bookings)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(bookings.id, confirmed.id));

    await runCron();

    expect((await bookingRow(tenant, pending.id))?.status).toBe('pending');
    expect((await bookingRow(tenant, confirmed.id))?.status).toBe('confirmed');
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 1, held: 1 },
      ticketTypes: { [paid.id]: { sold: 0, held: 1 }, [free.id]: { sold: 1, held: 0 } },
    });
  });
});
