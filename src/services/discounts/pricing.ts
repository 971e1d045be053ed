import { sql, type SQL } from 'drizzle-orm';
import { bookings, discountCodes, ticketTypes } from '../../db/schema/index.ts';
import type { Database } from '../../db/client.ts';
import { ApiError } from '../../errors/api-error.ts';
import { GUARD_LABEL_PREFIX } from '../events/shared.ts';
import { seatValues, type Seats } from '../bookings/inventory.ts';

/** The guard label of a discount code that does not apply (unknown, outside its window, used up, not eligible). */
export const DISCOUNT_INVALID_LABEL = 'discount_invalid';

/** Codes are case-insensitive: stored and compared upper-cased. */
export function normalizeCode(code: string): string {
  return code.trim().toUpperCase();
}

/**
 * The one answer to a discount code that does not apply, whatever the reason (unknown, not yet or no longer valid,
 * used up, this buyer's limit reached, too few eligible tickets, no amount in the order's currency): telling them
 * apart would help guessing.
 */
export function discountCodeInvalid(): ApiError {
  return new ApiError('discount_code_invalid', {
    detail: 'This discount code cannot be applied to this order.',
    errors: [{ pointer: '/body/discountCode', message: 'not applicable' }],
  });
}

const validNow = sql`(dc.starts_at is null or dc.starts_at <= now()) and (dc.ends_at is null or dc.ends_at > now())`;

/**
 * The uses of a code: the bookings holding it that are pending or confirmed. Counted, not kept in a counter, so a
 * booking that is cancelled, expires or is refunded in full gives its use back on whatever path it takes (staff
 * cancel, buyer cancel, the hold sweep, Stripe's webhook, refunds). Served by bookings_discount_code_active_idx.
 */
export function activeUses(organizationId: string, codeId: SQL): SQL {
  return sql`(select count(*) from ${bookings} b where b.organization_id = ${organizationId}
    and b.discount_code_id = ${codeId} and b.status in ('pending', 'confirmed'))`;
}

/**
 * The price of an order, as one subquery with one row: `subtotal` (sum of price x quantity), `discount` (what the
 * code takes off, never more than the eligible items cost, so the total is never below 0), `total`, `currency`, and
 * the applied code (`code_id`, `code`; null when none was given or it does not apply) with `code_ok` (no code given,
 * or it applies). A code applies when it exists for the event, is inside its window, has uses left, the order has at
 * least `min_quantity` eligible tickets and, for a fixed amount, an amount in the order's currency. Percent: floor of
 * percent x eligible subtotal / 100. Shared by the checkout batch and the price quote, so both compute the same.
 */
export function pricing(organizationId: string, eventId: SQL, seats: readonly Seats[], code: string | null): SQL {
  const priced = sql`with v(ticket_type_id, quantity) as ${seatValues(seats)},
    items as (select t.id, t.price::bigint as price, t.currency, v.quantity from ${ticketTypes} t
                join v on t.id = v.ticket_type_id where t.organization_id = ${organizationId}),
    base as (select coalesce(sum(price * quantity), 0) as subtotal, min(currency) as currency from items)`;
  // Without a code, the same row without the code's CTEs: the database plans every statement of a batch afresh, and
  // they were about half of the planning of a checkout's validation (2.5 -> 1.0-1.5 ms warm, docs/PERFORMANCE.md).
  if (code === null) {
    return sql`(${priced}
    select base.subtotal::bigint as total, base.currency, base.subtotal, 0::bigint as discount,
      null::uuid as code_id, null::text as code, true as code_ok
    from base)`;
  }
  return sql`(${priced},
    dc as (select * from ${discountCodes} dc where dc.organization_id = ${organizationId}
             and dc.event_id = ${eventId} and dc.code = ${code}::text),
    eligible as (select coalesce(sum(i.price * i.quantity), 0) as amount, coalesce(sum(i.quantity), 0) as quantity
                   from items i, dc where cardinality(dc.ticket_type_ids) = 0 or i.id = any(dc.ticket_type_ids)),
    ok as (select dc.* from dc, eligible, base where eligible.quantity >= dc.min_quantity and ${validNow}
             and (dc.max_uses is null or ${activeUses(organizationId, sql`dc.id`)} < dc.max_uses)
             and (dc.kind = 'percent' or dc.amounts ? base.currency)),
    off as (select ok.id, ok.code, least(eligible.amount, case ok.kind when 'percent'
                 then eligible.amount * ok.percent / 100 else (ok.amounts ->> base.currency)::bigint end) as amount
              from ok, eligible, base)
    select (base.subtotal - coalesce(off.amount, 0))::bigint as total, base.currency, base.subtotal,
      coalesce(off.amount, 0)::bigint as discount, off.id as code_id, off.code,
      (${code}::text is null or off.id is not null) as code_ok
    from base left join off on true)`;
}

/**
 * The hidden ticket types a code unlocks (its `ticket_type_ids` when `unlocks_hidden` and inside its window), as a
 * uuid[]: the checkout's one hidden-type check accepts these beside the ticket type's own access code.
 */
export function unlockedTicketTypes(organizationId: string, eventId: SQL, code: string | null): SQL {
  if (code === null) return sql`'{}'::uuid[]`;
  return sql`coalesce((select dc.ticket_type_ids from ${discountCodes} dc where dc.organization_id = ${organizationId}
    and dc.event_id = ${eventId} and dc.code = ${code}::text and dc.unlocks_hidden and ${validNow}), '{}'::uuid[])`;
}

/**
 * The checkout's use of a code, two statements placed just before the seats are taken (the booking row is inserted
 * already): first an UPDATE that locks the code row, aborting when a code was given but the booking got none (or the
 * code was deleted meanwhile); then, a new statement and so a fresh snapshot taken while that lock is held, the limits
 * counted over the bookings: the code's active uses (other pending or confirmed bookings with it) below `max_uses`,
 * and this buyer's below `max_per_buyer`. A concurrent checkout with the same code waits for the lock and then counts
 * the booking of the one before it, so exactly `max_uses` checkouts succeed. Every checkout with a code locks the
 * code row before the event row, and the paths that end a booking lock no code row, so they cannot deadlock.
 */
export function discountUseStatements(
  db: Database,
  organizationId: string,
  bookingId: string,
  code: string | null,
  buyerEmail: string,
) {
  // Without a code both statements are no-ops ('0' guards, nothing updated): left out of the batch.
  if (code === null) return [] as const;
  const abort = sql`${GUARD_LABEL_PREFIX} || ${DISCOUNT_INVALID_LABEL}::text`;
  const codeId = sql`(select discount_code_id from ${bookings} where organization_id = ${organizationId} and id = ${bookingId})`;
  const others = (buyer: SQL) => sql`(select count(*) from ${bookings} b where b.organization_id = ${organizationId}
    and b.discount_code_id = ${codeId} and b.status in ('pending', 'confirmed') and b.id <> ${bookingId} and ${buyer})`;
  const limit = (column: SQL) => sql`coalesce((select ${column} from ${discountCodes}
    where organization_id = ${organizationId} and id = ${codeId}), 2147483647)`;
  return [
    db.execute(sql`with u as (update ${discountCodes} dc set updated_at = now()
        where dc.organization_id = ${organizationId} and dc.id = ${codeId} returning dc.id)
      select (case when ${code}::text is null or exists (select 1 from u) then '0' else ${abort} end)::int as guard`),
    db.execute(sql`select (case when ${code}::text is null then '0'
        when ${others(sql`true`)} >= ${limit(sql`max_uses`)}
          or ${others(sql`b.buyer_email = ${buyerEmail}`)} >= ${limit(sql`max_per_buyer`)}
        then ${abort} else '0' end)::int as guard`),
  ] as const;
}
