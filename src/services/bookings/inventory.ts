import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { capacityPools, capacityPoolTicketTypes, events, ticketTypes } from '../../db/schema/index.ts';
import { GUARD_LABEL_PREFIX, mustChange } from '../events/shared.ts';
import { uuidArray } from '../users/guards.ts';

/**
 * Seat accounting. Three levels count seats: the event (its `capacity`), each ticket type (its `quantity`) and each
 * capacity pool (its `capacity`); each keeps `sold` (confirmed bookings) and `held` (pending ones), and
 * sold + held <= capacity holds at every level (the statements below check it, and CHECK constraints back them).
 *
 * Lock order, the same on every path (checkout, confirmation, cancellation, refund, the hold sweep): the booking
 * row, then the event row, then ticket types in id order, then pools. Checkout updates the event row first, so
 * concurrent checkouts of one event queue on that row and cannot deadlock on the rows after it.
 */
export type Counter = 'sold' | 'held';

export interface Seats {
  ticketTypeId: string;
  quantity: number;
}

/** `(values ($1::uuid, $2::int), ...)` of the requested seats, in ticket type id order. */
export function seatValues(seats: readonly Seats[]): SQL {
  return sql`(values ${sql.join(
    seats.map((seat) => sql`(${seat.ticketTypeId}::uuid, ${seat.quantity}::int)`),
    sql`, `,
  )})`;
}

/**
 * Statements that take `seats` of a new booking into `held`, one conditional UPDATE per level, each aborting the
 * whole batch when the seats do not fit: `event_sold_out` (the event's capacity), `sold_out:<ticket type id>`, and
 * `pool_sold_out`. `eventId` may be a subquery (checkout resolves the event by slug in the same batch). A
 * concurrent buyer waits for the row lock and then re-checks the condition against the committed counts, so two
 * buyers can never both take the last seat.
 */
export function takeSeats(db: Database, organizationId: string, eventId: SQL, seats: readonly Seats[]) {
  const total = seats.reduce((sum, seat) => sum + seat.quantity, 0);
  const sorted = [...seats].sort((a, b) => (a.ticketTypeId < b.ticketTypeId ? -1 : 1));
  const event = mustChange(
    db,
    sql`(update ${events} set held = held + ${total}
      where organization_id = ${organizationId} and id = ${eventId}
        and (capacity is null or sold + held + ${total} <= capacity)
      returning 1)`,
    'event_sold_out',
  );
  const perType = sorted.map((seat) =>
    mustChange(
      db,
      sql`(update ${ticketTypes} set held = held + ${seat.quantity}
        where organization_id = ${organizationId} and id = ${seat.ticketTypeId} and event_id = ${eventId}
          and sold + held + ${seat.quantity} <= quantity
        returning 1)`,
      `sold_out:${seat.ticketTypeId}`,
    ),
  );
  // Every pool the requested ticket types belong to must take the seats of its members: the UPDATE touches each pool
  // that still fits, and the guard aborts unless it touched all of them.
  const pools = db.execute(sql`with need as (
      select m.pool_id, sum(v.quantity)::int as quantity
      from ${capacityPoolTicketTypes} m join ${seatValues(sorted)} as v(ticket_type_id, quantity)
        on m.ticket_type_id = v.ticket_type_id
      where m.organization_id = ${organizationId}
      group by m.pool_id),
    taken as (
      update ${capacityPools} p set held = p.held + need.quantity from need
      where p.organization_id = ${organizationId} and p.id = need.pool_id
        and p.sold + p.held + need.quantity <= p.capacity
      returning p.id)
    select (case when (select count(*) from taken) = (select count(*) from need) then '0'
      else ${GUARD_LABEL_PREFIX + 'pool_sold_out'} end)::int as guard`);
  return [event, ...perType, pools] as const;
}

/**
 * Statements that move seats between counters for existing tickets: `from` null adds seats, `to` null releases
 * them, both set moves them (held -> sold when a booking is confirmed). `seats` is a query yielding
 * (ticket_type_id, quantity) rows, e.g. a booking's items or the attendees a refund cancels. Releasing and moving
 * never exceed a capacity, so these need no guard; the caller's conditional status change makes them happen once.
 */
export function moveSeats(
  db: Database,
  organizationId: string,
  eventId: string | SQL,
  seats: SQL,
  from: Counter | null,
  to: Counter | null,
) {
  const change = (alias: string, quantity: string): SQL => {
    const parts: SQL[] = [];
    if (from !== null) parts.push(sql.raw(`${from} = ${alias}.${from} - ${quantity}`));
    if (to !== null) parts.push(sql.raw(`${to} = ${alias}.${to} + ${quantity}`));
    return sql.join(parts, sql`, `);
  };
  return [
    db.execute(sql`update ${events} e set ${change('e', 's.quantity')}
      from (select coalesce(sum(quantity), 0)::int as quantity from ${seats} as q(ticket_type_id, quantity)) s
      where e.organization_id = ${organizationId} and e.id = ${eventId} and s.quantity > 0`),
    db.execute(sql`update ${ticketTypes} t set ${change('t', 's.quantity')}
      from (select ticket_type_id, sum(quantity)::int as quantity from ${seats} as q(ticket_type_id, quantity)
            group by ticket_type_id) s
      where t.organization_id = ${organizationId} and t.id = s.ticket_type_id`),
    db.execute(sql`update ${capacityPools} p set ${change('p', 's.quantity')}
      from (select m.pool_id, sum(q.quantity)::int as quantity
            from ${seats} as q(ticket_type_id, quantity)
            join ${capacityPoolTicketTypes} m on m.organization_id = ${organizationId} and m.ticket_type_id = q.ticket_type_id
            group by m.pool_id) s
      where p.organization_id = ${organizationId} and p.id = s.pool_id`),
  ] as const;
}

/** A booking's items as (ticket_type_id, quantity) rows, for `moveSeats`. */
export function bookingSeats(organizationId: string, bookingId: string): SQL {
  return sql`(select ticket_type_id, quantity from booking_items
    where organization_id = ${organizationId} and booking_id = ${bookingId})`;
}

/** Valid tickets of a booking (all, or only `attendeeIds`) as (ticket_type_id, quantity) rows, for `moveSeats`. */
export function attendeeSeats(organizationId: string, bookingId: string, attendeeIds?: readonly string[]): SQL {
  const only = attendeeIds === undefined ? sql`` : sql` and id = any(${uuidArray(attendeeIds)})`;
  return sql`(select ticket_type_id, count(*)::int as quantity from attendees
    where organization_id = ${organizationId} and booking_id = ${bookingId} and status = 'valid'${only}
    group by ticket_type_id)`;
}
