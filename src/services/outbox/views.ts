import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { AttendeeView, BookingView, PaymentView } from '../bookings/views.ts';
import type { EventView, TicketTypeView } from '../events/shared.ts';
import type { Member } from '../users/members.ts';

/**
 * The API's views of a row, built as `jsonb` inside SQL: an outbox insert in the same batch as a change reads the
 * row as that change left it (a later statement of the same transaction sees the earlier ones' writes), so the
 * event's `data` is exactly the object after the change, with no extra round trip. Each builder mirrors a TypeScript
 * view (`toEventView`, `toTicketTypeView`, `toBookingView`, `presentOrganization`, `toMember` ...) key for key: the
 * `Record<keyof View, SQL>` types make a missing or extra key a compile error, and tests/worker/outbox.test.ts
 * compares payloads with the API's responses.
 *
 * The `*Object(alias)` builders read columns of a row named `alias` (a table alias or a CTE); the `*Data(...)`
 * builders are scalar subqueries that find the row by id (null when there is none).
 */

const UTC_ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** `timestamptz` as ISO 8601 UTC with milliseconds, like `Date#toISOString()` (null stays null). */
export function isoText(value: SQL): SQL {
  return sql`to_char(${value} at time zone 'UTC', ${sql.raw(UTC_ISO)})`;
}

/** A column of the row `alias`: `alias.name`. Names are fixed identifiers of this file, never input. */
function column(alias: string, name: string): SQL {
  return sql.raw(`${alias}.${name}`);
}

function iso(alias: string, name: string): SQL {
  return isoText(column(alias, name));
}

/** `jsonb_build_object('key', value, ...)` of the entries, in their order. */
function jsonObject(entries: Record<string, SQL>): SQL {
  return sql`jsonb_build_object(${sql.join(
    Object.entries(entries).map(([key, value]) => sql`${sql.raw(`'${key}'`)}, ${value}`),
    sql`, `,
  )})`;
}

const dialect = new PgDialect();

/**
 * A builder of parameter-free SQL (the `*Object(alias)` views: fixed column names and SQL text, no values), rendered
 * to text once per isolate and alias and then reused as raw SQL. A free checkout's outbox insert holds the booking's
 * view twice and its payment's once: built per request, their few hundred chunks were about a tenth of the isolate's
 * CPU in the on-sale rush (docs/PERFORMANCE.md). A builder that gains a bound value fails on its first use here (the
 * outbox tests run every one), rather than sharing one request's value with the next.
 */
function renderedOnce(build: (alias: string) => SQL): (alias: string) => SQL {
  const rendered = new Map<string, SQL>();
  return (alias) => {
    let fragment = rendered.get(alias);
    if (fragment === undefined) {
      const query = dialect.sqlToQuery(build(alias));
      if (query.params.length > 0) throw new Error(`view of ${alias} binds values; it cannot be rendered once`);
      fragment = sql.raw(query.sql);
      rendered.set(alias, fragment);
    }
    return fragment;
  };
}

/** A uuid given as a value (bound as a parameter) or as SQL (a column of an enclosing query). */
type Id = string | SQL;

function idValue(id: Id): SQL {
  return typeof id === 'string' ? sql`${id}::uuid` : id;
}

// ---------------------------------------------------------------------------------------------------------------
// Events and ticket types
// ---------------------------------------------------------------------------------------------------------------

/** `EventView` (src/services/events/shared.ts) of the `events` row `alias`. */
export const eventObject = renderedOnce((alias: string): SQL => {
  const entries: Record<keyof EventView, SQL> = {
    id: column(alias, 'id'),
    slug: column(alias, 'slug'),
    title: column(alias, 'title'),
    description: column(alias, 'description'),
    status: column(alias, 'status'),
    visibility: column(alias, 'visibility'),
    timezone: column(alias, 'timezone'),
    startsAt: iso(alias, 'starts_at'),
    endsAt: iso(alias, 'ends_at'),
    venue: column(alias, 'venue'),
    onlineUrl: column(alias, 'online_url'),
    categories: column(alias, 'categories'),
    coverImageUrl: column(alias, 'cover_image_url'),
    capacity: column(alias, 'capacity'),
    transfersAllowed: column(alias, 'transfers_allowed'),
    transferCutoffMinutes: column(alias, 'transfer_cutoff_minutes'),
    buyerCancellation: column(alias, 'buyer_cancellation'),
    buyerCancellationCutoffMinutes: column(alias, 'buyer_cancellation_cutoff_minutes'),
    attendeeEditCutoffMinutes: column(alias, 'attendee_edit_cutoff_minutes'),
    seriesId: column(alias, 'series_id'),
    publishedAt: iso(alias, 'published_at'),
    cancelledAt: iso(alias, 'cancelled_at'),
    createdAt: iso(alias, 'created_at'),
    updatedAt: iso(alias, 'updated_at'),
  };
  return jsonObject(entries);
});

export function eventData(organizationId: string, eventId: Id): SQL {
  return sql`(select ${eventObject('ev')} from events ev
    where ev.organization_id = ${organizationId}::uuid and ev.id = ${idValue(eventId)})`;
}

/** `TicketTypeView` of the `ticket_types` row `alias`. */
export const ticketTypeObject = renderedOnce((alias: string): SQL => {
  const entries: Record<keyof TicketTypeView, SQL> = {
    id: column(alias, 'id'),
    eventId: column(alias, 'event_id'),
    name: column(alias, 'name'),
    description: column(alias, 'description'),
    price: column(alias, 'price'),
    currency: column(alias, 'currency'),
    quantity: column(alias, 'quantity'),
    sold: column(alias, 'sold'),
    held: column(alias, 'held'),
    remaining: sql.raw(`greatest(0, ${alias}.quantity - ${alias}.sold - ${alias}.held)`),
    salesStartAt: iso(alias, 'sales_start_at'),
    salesEndAt: iso(alias, 'sales_end_at'),
    minPerOrder: column(alias, 'min_per_order'),
    maxPerOrder: column(alias, 'max_per_order'),
    hidden: column(alias, 'hidden'),
    accessCode: column(alias, 'access_code'),
    sortOrder: column(alias, 'sort_order'),
    taxRate: column(alias, 'tax_rate'),
    createdAt: iso(alias, 'created_at'),
    updatedAt: iso(alias, 'updated_at'),
  };
  return jsonObject(entries);
});

export function ticketTypeData(organizationId: string, ticketTypeId: Id): SQL {
  return sql`(select ${ticketTypeObject('tt')} from ticket_types tt
    where tt.organization_id = ${organizationId}::uuid and tt.id = ${idValue(ticketTypeId)})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Bookings, tickets, payments
// ---------------------------------------------------------------------------------------------------------------

/** `AttendeeView` of the `attendees` row `alias` (a ticket). */
export const attendeeObject = renderedOnce((alias: string): SQL => {
  const entries: Record<keyof AttendeeView, SQL> = {
    id: column(alias, 'id'),
    bookingId: column(alias, 'booking_id'),
    ticketTypeId: column(alias, 'ticket_type_id'),
    name: column(alias, 'name'),
    email: column(alias, 'email'),
    ticketCode: column(alias, 'ticket_code'),
    status: column(alias, 'status'),
    answers: column(alias, 'answers'),
    checkedInAt: iso(alias, 'checked_in_at'),
    cancelledAt: iso(alias, 'cancelled_at'),
  };
  return jsonObject(entries);
});

/** `PaymentView` of the `payments` row `alias`. */
function paymentViewEntries(alias: string): Record<keyof PaymentView, SQL> {
  return {
    id: column(alias, 'id'),
    provider: column(alias, 'provider'),
    status: column(alias, 'status'),
    amount: column(alias, 'amount'),
    currency: column(alias, 'currency'),
    refundedAmount: column(alias, 'refunded_amount'),
    checkoutSessionId: column(alias, 'checkout_session_id'),
    paymentIntentId: column(alias, 'payment_intent_id'),
  };
}

/** `BookingView` (src/services/bookings/views.ts) of the `bookings` row `alias`, with its items, tickets, payment, refunds. */
export const bookingObject = renderedOnce((alias: string): SQL => {
  const owner = (child: string) =>
    sql.raw(`${child}.organization_id = ${alias}.organization_id and ${child}.booking_id = ${alias}.id`);
  const entries: Record<keyof BookingView, SQL> = {
    id: column(alias, 'id'),
    eventId: column(alias, 'event_id'),
    status: column(alias, 'status'),
    buyer: sql`jsonb_build_object('name', ${column(alias, 'buyer_name')}, 'email', ${column(alias, 'buyer_email')})`,
    total: column(alias, 'total'),
    currency: column(alias, 'currency'),
    refundedAmount: column(alias, 'refunded_amount'),
    discount: sql`case when ${column(alias, 'discount_code')} is not null then jsonb_build_object('code',
      ${column(alias, 'discount_code')}, 'amount', ${column(alias, 'discount_amount')}) end`,
    provider: column(alias, 'provider'),
    answers: column(alias, 'answers'),
    expiresAt: iso(alias, 'expires_at'),
    confirmedAt: iso(alias, 'confirmed_at'),
    cancelledAt: iso(alias, 'cancelled_at'),
    createdAt: iso(alias, 'created_at'),
    updatedAt: iso(alias, 'updated_at'),
    items: sql`coalesce((select jsonb_agg(jsonb_build_object('ticketTypeId', bi.ticket_type_id,
        'quantity', bi.quantity, 'unitPrice', bi.unit_price) order by bi.ticket_type_id)
      from booking_items bi where ${owner('bi')}), '[]'::jsonb)`,
    attendees: sql`coalesce((select jsonb_agg(${attendeeObject('ba')} order by ba.position)
      from attendees ba where ${owner('ba')}), '[]'::jsonb)`,
    payment: sql`(select ${jsonObject(paymentViewEntries('bp'))} from payments bp where ${owner('bp')} limit 1)`,
    refunds: sql`coalesce((select jsonb_agg(jsonb_build_object('id', br.id, 'amount', br.amount,
        'currency', br.currency, 'status', br.status, 'reason', br.reason, 'attendeeIds', br.attendee_ids,
        'createdAt', ${iso('br', 'created_at')},
        'creditNote', (select jsonb_build_object('number', cn.number,
            'url', '/api/v1/bookings/' || br.booking_id || '/refunds/' || br.id || '/credit-note')
          from invoices cn where cn.organization_id = br.organization_id and cn.refund_id = br.id
            and cn.kind = 'credit_note')) order by br.created_at, br.id)
      from refunds br where ${owner('br')}), '[]'::jsonb)`,
    // Invoices (issue #18 part 4): the staff download; null without an invoice.
    invoice: sql`(select jsonb_build_object('number', bin.number, 'url', '/api/v1/bookings/' || bin.booking_id || '/invoice')
      from invoices bin where ${owner('bin')} and bin.kind = 'invoice')`,
  };
  return jsonObject(entries);
});

export function bookingData(organizationId: string, bookingId: Id): SQL {
  return sql`(select ${bookingObject('bk')} from bookings bk
    where bk.organization_id = ${organizationId}::uuid and bk.id = ${idValue(bookingId)})`;
}

/** A booking's payment: `PaymentView` and the booking id (`payment.succeeded`, `payment.failed`). */
const paymentWithBooking = renderedOnce((alias: string): SQL => {
  const entries: Record<keyof PaymentView | 'bookingId', SQL> = {
    ...paymentViewEntries(alias),
    bookingId: column(alias, 'booking_id'),
  };
  return jsonObject(entries);
});

export function paymentData(organizationId: string, bookingId: Id): SQL {
  return sql`(select ${paymentWithBooking('py')} from payments py
    where py.organization_id = ${organizationId}::uuid and py.booking_id = ${idValue(bookingId)} limit 1)`;
}

/**
 * `checkin.created`: the ticket as the check-in answer shows it (`AttendeeView` with its event id and ticket type
 * name) and its event (`EventView`). `alias` is an `attendees` row that also carries the booking's `event_id`.
 */
export function checkInObject(organizationId: string, alias: string): SQL {
  return sql`jsonb_build_object(
    'attendee', ${attendeeObject(alias)} || jsonb_build_object('eventId', ${column(alias, 'event_id')},
      'ticketTypeName', (select ct.name from ticket_types ct
        where ct.organization_id = ${organizationId}::uuid and ct.id = ${column(alias, 'ticket_type_id')})),
    'event', ${eventData(organizationId, column(alias, 'event_id'))})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------------------------------------

const BRANDING_KEYS = ['displayName', 'logoUrl', 'primaryColor', 'accentColor', 'emailSenderName'];
const SETTINGS_TEXT_KEYS = ['timezone', 'currency', 'locale'];

function textList(keys: readonly string[]): SQL {
  return sql.raw(keys.map((key) => `'${key}'`).join(', '));
}

/**
 * The organization as the API presents it (`presentOrganization` in src/routes/organizations/schema.ts): its
 * branding and settings reduced to the readable known keys (text values; `allowedOrigins` a list of texts).
 */
export function organizationData(organizationId: string): SQL {
  const entries = {
    id: sql`o.id`,
    slug: sql`o.slug`,
    name: sql`o.name`,
    plan: sql`o.plan`,
    status: sql`o.status`,
    branding: sql`(select coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb) from jsonb_each(o.branding) f
      where f.key in (${textList(BRANDING_KEYS)}) and jsonb_typeof(f.value) = 'string')`,
    settings: sql`(select coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb) from jsonb_each(o.settings) f
      where (f.key in (${textList(SETTINGS_TEXT_KEYS)}) and jsonb_typeof(f.value) = 'string')
        or (f.key = 'allowedOrigins' and jsonb_typeof(f.value) = 'array'
          and not exists (select 1 from jsonb_array_elements(f.value) origin where jsonb_typeof(origin) <> 'string')))`,
    createdAt: isoText(sql`o.created_at`),
    updatedAt: isoText(sql`o.updated_at`),
  };
  return sql`(select ${jsonObject(entries)} from organizations o where o.id = ${organizationId}::uuid)`;
}

// ---------------------------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------------------------

/**
 * `Member` (`toMember` in src/services/users/members.ts) of a membership: the user seen through this organization,
 * with the organization's display name else the account's, and nothing of the account (verification, last sign-in)
 * while the membership is only invited. Null when there is no such membership.
 */
export function memberData(organizationId: string, userId: Id): SQL {
  const entries: Record<keyof Member, SQL> = {
    id: sql`mu.id`,
    email: sql`mu.email`,
    name: sql`coalesce(mm.display_name, mu.name)`,
    role: sql`jsonb_build_object('key', mr.key, 'name', mr.name)`,
    status: sql`mm.status`,
    emailVerified: sql`(mm.status <> 'invited' and mu.email_verified_at is not null)`,
    lastLoginAt: sql`case when mm.status = 'invited' then null else ${iso('mm', 'last_login_at')} end`,
    createdAt: iso('mm', 'created_at'),
  };
  return sql`(select ${jsonObject(entries)} from memberships mm
    join users mu on mu.id = mm.user_id
    join roles mr on mr.organization_id = mm.organization_id and mr.id = mm.role_id
    where mm.organization_id = ${organizationId}::uuid and mm.user_id = ${idValue(userId)})`;
}
