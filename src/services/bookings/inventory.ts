import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { capacityPools, capacityPoolTicketTypes, events, ticketTypes } from '../../db/schema/index.ts';
import { GUARD_LABEL_PREFIX } from '../events/shared.ts';
import { uuidArray } from '../../db/params.ts';

/**
 * Seat accounting. Three levels count seats: the event (its `capacity`), each ticket type (its `quantity`) and each
 * capacity pool (its `capacity`); each keeps `sold` (confirmed bookings) and `held` (pending ones), and
 * sold + held <= capacity holds at every level (the statements below check it, and CHECK constraints back them).
 *
 * Lock order, the same on every path (checkout, confirmation, cancellation, refund, the hold sweep): the booking
 * row, then the event row, then ticket types, then pools. Checkout updates the event row before any other counter
 * (`takeSeats`), so concurrent checkouts of one event queue on that row and cannot deadlock on
 * the rows after it. (Checkout inserts its booking, items and tickets before that statement: their foreign keys
 * take KEY SHARE locks on the event and ticket type rows, which never conflict with the counters' updates.)
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
 * More checks for the second statement of `takeSeats`, run under the event row's lock with its fresh snapshot:
 * `ctes` are CTE definitions appended to that statement (they may read `v(ticket_type_id, quantity)`, the requested
 * seats), and `label` a text expression that is '0', or a guard label (with GUARD_LABEL_PREFIX) that aborts the
 * batch. It is evaluated only when the seats fit.
 */
export interface SeatGuard {
  ctes: SQL;
  label: SQL;
}

/**
 * The two statements that take the seats of a new booking, with conditional UPDATEs that abort the whole batch at
 * the first level whose seats do not fit: `event_sold_out` (the event's capacity), then `sold_out:<ticket type id>`
 * (the lowest id that does not fit) and `pool_sold_out` (every pool the requested ticket types belong to). `toSold`
 * is a boolean SQL expression: true puts the seats straight into `sold` (a free order, confirmed at once), false into
 * `held` (a pending one). `eventId` may be a subquery (checkout resolves the event by slug in the same batch).
 *
 * The first statement updates the event row alone: concurrent checkouts of one event queue on that lock, and a buyer
 * who waited re-checks the capacity against the row its predecessor committed (READ COMMITTED re-evaluation), so two
 * buyers can never both take the last seat. The second statement takes a new snapshot once the lock is held, so it
 * sees everything committed by whoever held the event row before (the previous buyers, a pool change, which locks
 * the event row FOR SHARE): it updates the ticket types, then the pools (its UPDATE runs only after the ticket
 * types' one, whose result its one-time filter reads), then evaluates `after`. Checkout runs both last in its batch,
 * after its own rows are written, so the event row stays locked for these two statements and the commit only.
 */
export function takeSeats(
  db: Database,
  organizationId: string,
  eventId: SQL,
  seats: readonly Seats[],
  toSold: SQL,
  after?: SeatGuard,
) {
  const total = seats.reduce((sum, seat) => sum + seat.quantity, 0);
  const add = (alias: string, counter: Counter, quantity: SQL): SQL => {
    const now = counter === 'sold' ? sql`target.sold` : sql`not target.sold`;
    return sql`${sql.raw(`${alias}.${counter}`)} + case when ${now} then ${quantity} else 0 end`;
  };
  const target = sql`target as (select (${toSold})::boolean as sold)`;
  const event = db.execute(sql`with ${target},
    taken as (update ${events} e set sold = ${add('e', 'sold', sql`${total}`)}, held = ${add('e', 'held', sql`${total}`)}
      from target
      where e.organization_id = ${organizationId} and e.id = ${eventId}
        and (e.capacity is null or e.sold + e.held + ${total} <= e.capacity)
      returning e.id)
    select (case when exists (select 1 from taken) then '0'
      else ${GUARD_LABEL_PREFIX + 'event_sold_out'} end)::int as guard`);
  const rest = db.execute(sql`with v(ticket_type_id, quantity) as ${seatValues(seats)}, ${target},
    tt as (update ${ticketTypes} t set sold = ${add('t', 'sold', sql`v.quantity`)}, held = ${add('t', 'held', sql`v.quantity`)}
      from v, target
      where t.organization_id = ${organizationId} and t.id = v.ticket_type_id and t.event_id = ${eventId}
        and t.sold + t.held + v.quantity <= t.quantity
      returning t.id),
    need as (select m.pool_id, sum(v.quantity)::int as quantity
      from ${capacityPoolTicketTypes} m join v on m.ticket_type_id = v.ticket_type_id
      where m.organization_id = ${organizationId}
      group by m.pool_id),
    pl as (update ${capacityPools} p set sold = ${add('p', 'sold', sql`need.quantity`)}, held = ${add('p', 'held', sql`need.quantity`)}
      from need, target
      where (select count(*) from tt) = ${seats.length}
        and p.organization_id = ${organizationId} and p.id = need.pool_id
        and p.sold + p.held + need.quantity <= p.capacity
      returning p.id)${after === undefined ? sql`` : sql`, ${after.ctes}`}
    select (case
      when (select count(*) from tt) < ${seats.length} then ${GUARD_LABEL_PREFIX + 'sold_out:'} ||
        (select min(v.ticket_type_id::text) from v where v.ticket_type_id not in (select id from tt))
      when (select count(*) from pl) < (select count(*) from need) then ${GUARD_LABEL_PREFIX + 'pool_sold_out'}
      else ${after === undefined ? sql`'0'` : after.label} end)::int as guard`);
  return [event, rest] as const;
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
