import { sql, type SQL } from 'drizzle-orm';
import {
  attendees,
  bookingItems,
  bookings,
  capacityPools,
  capacityPoolTicketTypes,
  events,
  paymentSettings,
  payments,
  ticketTypes,
} from '../../db/schema/index.ts';
import type { Answers } from '../../db/schema/questions.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import {
  claimStatements,
  resolveClaimFailure,
  storeResponseStatement,
  type IdempotencyClaim,
} from '../../lib/idempotency.ts';
import { auditInsert } from '../audit/record.ts';
import { generateOpaqueToken, hashToken } from '../auth/tokens.ts';
import { abortLabel, GUARD_LABEL_PREFIX } from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertMany } from '../outbox/record.ts';
import { bookingData, paymentData } from '../outbox/views.ts';
import { isoText } from '../outbox/views.ts';
import { answerRefusal, answersGuard, checkoutSubjects, subjectRows } from '../questions/validate.ts';
import { seatValues, takeSeats, type Seats, type SeatGuard } from './inventory.ts';
import { databaseError, FOREIGN_KEY_VIOLATION } from '../users/guards.ts';
import { HOLD_MINUTES, newTicketCode, UNPAID_HOLD_LIMITS } from './shared.ts';
import {
  DISCOUNT_INVALID_LABEL,
  discountCodeInvalid,
  discountUseStatements,
  normalizeCode,
  pricing,
  unlockedTicketTypes,
} from '../discounts/pricing.ts';

export interface AttendeeInput {
  name: string;
  email: string;
  answers?: Answers | undefined;
}

export interface BookingItemInput {
  ticketTypeId: string;
  quantity: number;
  attendees?: AttendeeInput[] | undefined;
}

export interface CreateBookingInput {
  /** The event's slug (the public checkout route). */
  slug: string;
  buyer: { name: string; email: string };
  items: BookingItemInput[];
  accessCode?: string | undefined;
  /** A discount code of the event (issue #18 part 1), case-insensitive. */
  discountCode?: string | undefined;
  answers?: Answers | undefined;
  paymentMethod?: 'stripe' | 'manual' | undefined;
  idempotency?: Omit<IdempotencyClaim, 'organizationId' | 'scope'> | undefined;
}

export interface CreatedBooking {
  status: number;
  body: unknown;
  replayed: boolean;
}

/**
 * The checks a checkout must pass before it writes anything, as one statement that aborts the batch with the first
 * failed check's label (the event, then each item's ticket type, window and per-order limits, then the payment
 * method, needed only when the order's total after its discount code (`totals`, pricing()) is above 0, so a paid
 * ticket type brought to 0 by a code books like a free one; manual payment only where the organization's payment
 * settings enable it; then whether the seats are still
 * there at the event, ticket type and pool levels). It reads without locking: the seat check here only refuses
 * early an order that already cannot fit (during an on-sale rush, every buyer after the sell-out is answered without
 * queueing for the event row or writing rows that roll back); `takeSeats`, at the end of the batch, re-checks
 * capacity under the row locks.
 */
function validation(
  organizationId: string,
  eventId: SQL,
  seats: readonly Seats[],
  accessCode: string | null,
  paymentMethod: string | null,
  unlocked: SQL,
  totals: SQL,
): SQL {
  const total = seats.reduce((sum, seat) => sum + seat.quantity, 0);
  return sql`with v(requested_id, requested_quantity) as ${seatValues(seats)},
    e as (select id, status, ends_at, capacity, sold, held from ${events}
            where organization_id = ${organizationId} and id = ${eventId}),
    t as (select v.requested_id, v.requested_quantity, tt.* from v left join ${ticketTypes} tt
            on tt.organization_id = ${organizationId} and tt.id = v.requested_id and tt.event_id = ${eventId}),
    s as (select stripe_secret_key is not null as stripe, manual_enabled as manual from ${paymentSettings}
            where organization_id = ${organizationId}),
    problems(rank, label) as (
      select 1, 'event_not_found' where not exists (select 1 from e where status <> 'draft')
      union all select 2, 'not_on_sale' from e where status <> 'published' or ends_at <= now()
      union all select 3, 'ticket_type_not_found:' || requested_id from t
        where id is null or (hidden and access_code is distinct from ${accessCode}::text and not id = any(${unlocked}))
      union all select 4, 'not_available:' || requested_id from t
        where sales_start_at > now() or sales_end_at <= now()
      union all select 5, 'per_order:' || requested_id from t
        where requested_quantity < min_per_order or requested_quantity > max_per_order
      union all select 6, 'currency_mismatch' where (select count(distinct currency) from t) > 1
      union all select 7, 'total_too_large'
        where (select sum(price::bigint * requested_quantity) from t) > 2147483647
      union all select 8, 'no_payment_method'
        where (select priced.total from ${totals} priced) > 0 and not coalesce(
          (select case ${paymentMethod}::text when 'stripe' then stripe when 'manual' then manual
                  else stripe or manual end from s),
          false)
      union all select 9, 'event_sold_out' from e
        where e.capacity is not null and e.sold + e.held + ${total} > e.capacity
      union all select 10, 'sold_out:' || requested_id from t where sold + held + requested_quantity > quantity
      union all select 11, 'pool_sold_out' where exists (
        select 1 from ${capacityPools} p join (
            select m.pool_id, sum(v.requested_quantity) as quantity from ${capacityPoolTicketTypes} m
            join v on m.ticket_type_id = v.requested_id where m.organization_id = ${organizationId} group by m.pool_id
          ) need on p.id = need.pool_id
        where p.organization_id = ${organizationId} and p.sold + p.held + need.quantity > p.capacity))
    select (coalesce((select ${GUARD_LABEL_PREFIX} || label from problems order by rank, label limit 1), '0'))::int
      as guard`;
}

/**
 * The bounds on unpaid holds (`UNPAID_HOLD_LIMITS`), as checks `takeSeats` runs in its second statement: after the
 * UPDATE of the event row, which is held until commit, so concurrent checkouts of one event queue on that lock and
 * these checks (a new snapshot under READ COMMITTED) see every booking committed before: two concurrent orders from
 * one address cannot both slip under a bound. The booking being created (inserted earlier in the batch) is not
 * counted. Served by the partial indexes on pending bookings (bookings_pending_client_key_idx,
 * bookings_pending_buyer_email_idx). Reads the requested seats as `v(ticket_type_id, quantity)`.
 */
function unpaidHoldBounds(
  organizationId: string,
  eventId: SQL,
  bookingId: string,
  seats: readonly Seats[],
  clientKey: string | null,
  buyerEmail: string,
): SeatGuard {
  const requested = seats.reduce((sum, seat) => sum + seat.quantity, 0);
  const pending = (match: SQL) => sql`select b.id from ${bookings} b where b.organization_id = ${organizationId}
    and b.event_id = ${eventId} and b.status = 'pending' and b.expires_at > now() and b.id <> ${bookingId}
    and ${match}`;
  const ctes = sql`paid as (select 1 from v join ${ticketTypes} pt
               on pt.organization_id = ${organizationId} and pt.id = v.ticket_type_id
               where pt.price > 0),
    by_client as (${pending(sql`b.client_key = ${clientKey}::text`)}),
    by_email as (${pending(sql`b.buyer_email = ${buyerEmail}`)}),
    client_seats as (select coalesce(sum(i.quantity), 0) as seats from ${bookingItems} i
                       join by_client bc on bc.id = i.booking_id
                       where i.organization_id = ${organizationId}),
    capacity as (select coalesce(e.capacity, (select sum(quantity) from ${ticketTypes}
                   where organization_id = ${organizationId} and event_id = e.id)) as seats
                 from ${events} e where e.organization_id = ${organizationId} and e.id = ${eventId}),
    problems(rank, label) as (
      select 1, 'unpaid_holds_client' where (select count(*) from by_client) >= ${UNPAID_HOLD_LIMITS.perClient}
      union all select 2, 'unpaid_holds_email' where (select count(*) from by_email) >= ${UNPAID_HOLD_LIMITS.perEmail}
      union all select 3, 'unpaid_holds_share' where ${clientKey}::text is not null
        and (select seats from client_seats) + ${requested} > greatest(${UNPAID_HOLD_LIMITS.clientSeatFloor},
          ceil((select seats from capacity) * ${UNPAID_HOLD_LIMITS.clientShare}::numeric)))`;
  const label = sql`(case when not exists (select 1 from paid) then '0'
      else coalesce((select ${GUARD_LABEL_PREFIX} || label from problems order by rank limit 1), '0') end)`;
  return { ctes, label };
}

/** Where a refused checkout points: the request field that explains it. */
function refusal(label: string, input: CreateBookingInput): ApiError {
  const [kind, ticketTypeId] = label.split(':') as [string, string | undefined];
  const index = input.items.findIndex((item) => item.ticketTypeId.toLowerCase() === ticketTypeId);
  const item = index === -1 ? undefined : input.items[index];
  switch (kind) {
    case 'event_not_found':
      return new ApiError('not_found', { detail: 'No event with this slug.' });
    case 'not_on_sale':
      return new ApiError('conflict', { detail: 'This event is not on sale.' });
    case 'ticket_type_not_found':
      return new ApiError('validation_failed', {
        detail: 'A ticket type is not on sale for this event.',
        errors: [{ pointer: `/body/items/${index}/ticketTypeId`, message: 'no such ticket type for this event' }],
      });
    case 'not_available':
      return new ApiError('conflict', {
        detail: `Ticket type ${ticketTypeId ?? ''} is outside its sales window.`,
        extensions: { ticketTypeId },
      });
    case 'per_order':
      return new ApiError('validation_failed', {
        detail: `The quantity of ticket type ${ticketTypeId ?? ''} is outside its per-order limits.`,
        errors: [{ pointer: `/body/items/${index}/quantity`, message: 'outside minPerOrder..maxPerOrder' }],
      });
    case 'currency_mismatch':
      return new ApiError('validation_failed', {
        detail: 'All ticket types of one booking must have the same currency.',
        errors: [{ pointer: '/body/items', message: 'ticket types in several currencies' }],
      });
    case 'total_too_large':
      return new ApiError('validation_failed', {
        detail: 'The order total is too large.',
        errors: [{ pointer: '/body/items', message: 'total exceeds the maximum amount' }],
      });
    case 'no_payment_method':
      return new ApiError('unprocessable', {
        detail:
          input.paymentMethod === undefined
            ? 'This organization accepts no payment method for paid tickets.'
            : `The payment method ${input.paymentMethod} is not available.`,
      });
    case 'unpaid_holds_client':
      return new ApiError('unpaid_hold_limit', {
        detail:
          `This event already has ${UNPAID_HOLD_LIMITS.perClient} unpaid orders from your network; pay or cancel ` +
          'one of them, or wait until it expires, before ordering again.',
      });
    case 'unpaid_holds_email':
      return new ApiError('unpaid_hold_limit', {
        detail:
          `This event already has ${UNPAID_HOLD_LIMITS.perEmail} unpaid orders for this buyer email address; pay ` +
          'or cancel one of them, or wait until it expires, before ordering again.',
        errors: [{ pointer: '/body/buyer/email', message: 'too many unpaid orders for this event' }],
      });
    case 'unpaid_holds_share':
      return new ApiError('unpaid_hold_limit', {
        detail:
          'Unpaid orders from your network would hold too large a share of this event; pay for the pending ones ' +
          'or order fewer tickets.',
      });
    case 'event_sold_out':
    case 'pool_sold_out':
      return new ApiError('sold_out', { detail: 'Not enough seats are left for this order.' });
    case 'sold_out':
      return new ApiError('sold_out', {
        detail: `Not enough tickets of ${item === undefined ? 'this type' : `type ${item.ticketTypeId}`} are left.`,
        extensions: { ticketTypeId },
      });
    default:
      throw new Error(`unexpected checkout guard ${label}`);
  }
}

/** The requested seats per ticket type (lowercased ids), refusing a ticket type listed twice. */
function requestedSeats(input: CreateBookingInput): Seats[] {
  const seen = new Set<string>();
  return input.items.map((item, index) => {
    const ticketTypeId = item.ticketTypeId.toLowerCase();
    if (seen.has(ticketTypeId)) {
      throw new ApiError('validation_failed', {
        detail: 'Each ticket type may appear once; give the quantity instead.',
        errors: [{ pointer: `/body/items/${index}/ticketTypeId`, message: 'listed twice' }],
      });
    }
    seen.add(ticketTypeId);
    if (item.attendees !== undefined && item.attendees.length !== item.quantity) {
      throw new ApiError('validation_failed', {
        detail: 'Give one attendee per ticket, or none (the buyer is then every attendee).',
        errors: [{ pointer: `/body/items/${index}/attendees`, message: `must list ${item.quantity} attendees` }],
      });
    }
    return { ticketTypeId, quantity: item.quantity };
  });
}

/**
 * Public checkout: a booking for an event found by slug, in ONE database round trip (one batch, one transaction).
 * The batch validates the order (and refuses early, without locking, an order whose seats are already gone), then
 * writes the booking with a total the database computes from the ticket types' prices, its items, one attendee per
 * ticket with a unique ticket code, the payment row, the audit row, the outbox events in one statement
 * (`booking.created`; for a free order also `booking.confirmed` and `payment.succeeded`) and the response, and only
 * then takes the seats with two statements of conditional UPDATEs (the event row; then the ticket types, the pools
 * and the bounds on unpaid holds; see `takeSeats`). The event row, on which all checkouts of the event queue, is
 * thus locked for those two statements and the commit only. A free order is written as confirmed and paid, its seats go straight to
 * `sold`; a paid one is pending and holds its seats. Any failed step (a sold-out guard included) aborts everything.
 * With an Idempotency-Key, the key is claimed first and the response stored in the same transaction. The events are
 * dispatched after the response (`notifyOutbox`), outside the request's round trips.
 */
export async function createBooking({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateBookingInput;
}): Promise<CreatedBooking> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const seats = requestedSeats(input);
  const claim: IdempotencyClaim | null =
    input.idempotency === undefined ? null : { ...input.idempotency, organizationId, scope: 'public' };

  const bookingId = crypto.randomUUID();
  const paymentId = crypto.randomUUID();
  const token = generateOpaqueToken('bk');
  const tokenHash = await hashToken(token);
  const eventId = sql`(select id from ${events} where organization_id = ${organizationId} and slug = ${input.slug} and visibility in ('public', 'unlisted'))`;
  const method = input.paymentMethod ?? null;
  const buyerEmail = input.buyer.email.toLowerCase();
  const discountCode = input.discountCode === undefined ? null : normalizeCode(input.discountCode);

  const attendeeRows = input.items.flatMap((item) =>
    Array.from({ length: item.quantity }, (_, position) => {
      const person = item.attendees?.[position] ?? { name: input.buyer.name, email: input.buyer.email };
      return {
        organizationId,
        bookingId,
        ticketTypeId: item.ticketTypeId.toLowerCase(),
        name: person.name,
        email: person.email.toLowerCase(),
        answers: ('answers' in person ? person.answers : undefined) ?? {},
        ticketCode: newTicketCode(),
      };
    }),
  );

  // The provider, hold and status follow from the total the database computes (after the discount code, if any).
  const totals = pricing(organizationId, eventId, seats, discountCode);
  const provider = sql`(case when s.total = 0 then 'free'
      when ${method}::text is not null then ${method}::text
      when (select stripe_secret_key is not null from ${paymentSettings} where organization_id = ${organizationId}) then 'stripe'
      else 'manual' end)`;

  const response = sql`(select jsonb_build_object(
      'id', b.id, 'status', b.status, 'token', ${token}::text, 'eventId', b.event_id,
      'buyer', jsonb_build_object('name', b.buyer_name, 'email', b.buyer_email),
      'total', b.total, 'currency', b.currency,
      'discount', case when b.discount_code is not null then jsonb_build_object('code', b.discount_code,
        'amount', b.discount_amount) end,
      'expiresAt', ${isoText(sql`b.expires_at`)}, 'createdAt', ${isoText(sql`b.created_at`)},
      'items', (select jsonb_agg(jsonb_build_object('ticketTypeId', i.ticket_type_id, 'quantity', i.quantity,
          'unitPrice', i.unit_price) order by i.ticket_type_id)
        from ${bookingItems} i where i.organization_id = ${organizationId} and i.booking_id = b.id),
      'attendees', (select jsonb_agg(jsonb_build_object('id', a.id, 'ticketTypeId', a.ticket_type_id, 'name', a.name,
          'email', a.email, 'ticketCode', a.ticket_code) order by a.position)
        from ${attendees} a where a.organization_id = ${organizationId} and a.booking_id = b.id),
      'payment', jsonb_build_object('provider', b.provider, 'status', p.status, 'amount', p.amount,
        'currency', p.currency,
        'instructions', case when b.provider = 'manual' then coalesce(
          (select manual_instructions from ${paymentSettings} where organization_id = ${organizationId}), '') end,
        'checkout', case when b.provider = 'stripe' then jsonb_build_object('method', 'POST',
          'href', '/api/v1/public/bookings/' || b.id || '/checkout') end))
    from ${bookings} b join ${payments} p on p.organization_id = b.organization_id and p.booking_id = b.id
    where b.organization_id = ${organizationId} and b.id = ${bookingId})`;

  const bookingView = bookingData(organizationId, bookingId);
  // A free order is confirmed (and its payment succeeded) in the batch itself.
  const confirmedAtOnce = sql`exists (select 1 from ${bookings} where organization_id = ${organizationId}
    and id = ${bookingId} and status = 'confirmed')`;

  const respond =
    claim === null ? db.execute(sql`select ${response} as response`) : storeResponseStatement(db, claim, 201, response);
  // Everything the booking writes comes before the seats, so the event row is locked from `takeSeats` to the commit
  // only; a refusal there (sold out, unpaid-hold bounds) still rolls all of it back.
  const statements = [
    ...(claim === null ? [] : claimStatements(db, claim)),
    db.execute(
      validation(
        organizationId,
        eventId,
        seats,
        input.accessCode ?? null,
        method,
        unlockedTicketTypes(organizationId, eventId, discountCode),
        totals,
      ),
    ),
    // Attendee questions (issue #18 part 3): the answers against the event's questions, read in this batch.
    db.execute(answersGuard(organizationId, eventId, subjectRows(checkoutSubjects(input)))),
    db.execute(sql`insert into ${bookings} (id, organization_id, event_id, status, buyer_name, buyer_email, total,
        currency, provider, token_hash, answers, expires_at, confirmed_at, client_key,
        discount_code_id, discount_code, discount_amount)
      select ${bookingId}, ${organizationId}, ${eventId},
        (case when s.total = 0 then 'confirmed' else 'pending' end)::booking_status,
        ${input.buyer.name}, ${buyerEmail}, s.total, s.currency, p.provider::payment_provider,
        ${tokenHash}, ${JSON.stringify(input.answers ?? {})}::jsonb,
        case when s.total = 0 then null
          else now() + make_interval(mins => case p.provider when 'stripe' then ${HOLD_MINUTES.stripe}::int
            when 'manual' then ${HOLD_MINUTES.manual}::int else ${HOLD_MINUTES.default}::int end) end,
        case when s.total = 0 then now() end, ${ctx.client.addressKey}::text,
        s.code_id, s.code, s.discount
      from ${totals} s, lateral (select ${provider} as provider) p`),
    db.execute(sql`insert into ${bookingItems} (organization_id, booking_id, ticket_type_id, quantity, unit_price)
      select ${organizationId}, ${bookingId}, v.ticket_type_id, v.quantity, t.price
      from ${seatValues(seats)} as v(ticket_type_id, quantity)
      join ${ticketTypes} t on t.organization_id = ${organizationId} and t.id = v.ticket_type_id`),
    db.insert(attendees).values(attendeeRows.map((row, position) => ({ ...row, position }))),
    db.execute(sql`insert into ${payments} (id, organization_id, booking_id, provider, status, amount, currency)
      select ${paymentId}, ${organizationId}, b.id, b.provider,
        (case when b.total = 0 then 'succeeded' else 'pending' end)::payment_status, b.total, b.currency
      from ${bookings} b where b.organization_id = ${organizationId} and b.id = ${bookingId}`),
    auditInsert(db, ctx.client, {
      organizationId,
      actor: { type: 'anonymous' },
      action: 'booking.created',
      target: { type: 'booking', id: bookingId },
      metadata: { eventSlug: input.slug, items: seats, paymentMethod: method },
    }),
    // The events: the booking as staff see it (one view for both events); a free booking is also confirmed and paid
    // at once.
    outboxInsertMany(db, [
      { organizationId, type: 'booking.created', data: bookingView },
      { organizationId, type: 'booking.confirmed', data: bookingView, when: confirmedAtOnce },
      {
        organizationId,
        type: 'payment.succeeded',
        data: paymentData(organizationId, bookingId),
        when: confirmedAtOnce,
      },
    ]),
    respond,
    // The discount code's use (and per-buyer limit), under the code row's lock, taken before the event row's.
    ...discountUseStatements(db, organizationId, bookingId, discountCode, buyerEmail),
    // The seats, last: a confirmed (free) order's go straight to sold, a pending one's are held; then the bounds on
    // unpaid holds, under the event row's lock.
    ...takeSeats(
      db,
      organizationId,
      eventId,
      seats,
      confirmedAtOnce,
      unpaidHoldBounds(organizationId, eventId, bookingId, seats, ctx.client.addressKey, buyerEmail),
    ),
  ] as const;
  const responseAt = statements.indexOf(respond);

  try {
    const results = await scoped(db, { organizationId }, statements as unknown as Parameters<typeof scoped>[2]);
    const answer = results[responseAt] as { response: unknown }[] | { rows: { response: unknown }[] };
    const row = Array.isArray(answer) ? answer[0] : answer.rows[0];
    if (row === undefined) throw new Error('checkout returned no response');
    notifyOutbox(ctx, organizationId);
    return { status: 201, body: row.response, replayed: false };
  } catch (error) {
    if (claim !== null) {
      const replay = await resolveClaimFailure(db, claim, error);
      if (replay !== null) return { ...replay, replayed: true };
    }
    const answerError = answerRefusal(error);
    if (answerError !== null) throw answerError;
    const label = abortLabel(error);
    if (label === DISCOUNT_INVALID_LABEL) throw discountCodeInvalid();
    if (label !== null) throw refusal(label, input);
    // The rows are written before the seats are taken, so a ticket type deleted by staff between the validation and
    // the insert of the items surfaces as their foreign key instead of a sold-out guard.
    if (databaseError(error)?.code === FOREIGN_KEY_VIOLATION) {
      throw new ApiError('conflict', { detail: 'A ticket type of this order was removed meanwhile.' });
    }
    throw error;
  }
}
