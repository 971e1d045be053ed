import { sql } from 'drizzle-orm';
import { events } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { seatValues } from '../bookings/inventory.ts';
import { ticketTypes } from '../../db/schema/index.ts';
import { discountCodeInvalid, normalizeCode, pricing, unlockedTicketTypes } from './pricing.ts';

export interface QuoteInput {
  slug: string;
  items: { ticketTypeId: string; quantity: number }[];
  accessCode?: string | undefined;
  discountCode?: string | undefined;
}

export interface Quote {
  currency: string;
  subtotal: number;
  discount: number;
  total: number;
  discountCode: string | null;
  items: { ticketTypeId: string; quantity: number; unitPrice: number }[];
}

/**
 * The price of an order before buying, with the same pricing subquery as the checkout (so a quote equals the
 * checkout's total while nothing changes in between): one read-only statement. 404 for an unknown event slug; 400
 * (pointer to the item) for a ticket type that is not on sale to this caller (another event's, or hidden without
 * its access code or an unlocking discount code); 400 for several currencies; 422 `discount_code_invalid` for a code
 * that does not apply. It does not check seats, sales windows or per-order limits: the checkout does.
 */
export async function quoteOrder({ ctx, input }: { ctx: ServiceContext; input: QuoteInput }): Promise<Quote> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const seen = new Set<string>();
  const seats = input.items.map((item, index) => {
    const ticketTypeId = item.ticketTypeId.toLowerCase();
    if (seen.has(ticketTypeId)) {
      throw new ApiError('validation_failed', {
        detail: 'Each ticket type may appear once; give the quantity instead.',
        errors: [{ pointer: `/body/items/${index}/ticketTypeId`, message: 'listed twice' }],
      });
    }
    seen.add(ticketTypeId);
    return { ticketTypeId, quantity: item.quantity };
  });
  const code = input.discountCode === undefined ? null : normalizeCode(input.discountCode);
  const eventId = sql`(select id from ${events} where organization_id = ${organizationId} and slug = ${input.slug}
    and visibility in ('public', 'unlisted') and status = 'published')`;
  const [rows] = await scoped(db, { organizationId }, [
    db.execute(sql`with v(ticket_type_id, quantity) as ${seatValues(seats)},
        t as (select v.ticket_type_id as requested_id, v.quantity, tt.id, tt.price from v left join ${ticketTypes} tt
                on tt.organization_id = ${organizationId} and tt.id = v.ticket_type_id and tt.event_id = ${eventId}
                and (not tt.hidden or tt.access_code = ${input.accessCode ?? null}::text
                     or tt.id = any(${unlockedTicketTypes(organizationId, eventId, code)})))
      select ${eventId} is not null as event_found,
        (select array_agg(requested_id::text) from t where id is null) as missing,
        (select count(distinct currency) from ${ticketTypes} where organization_id = ${organizationId}
           and id in (select id from t)) as currencies,
        (select jsonb_agg(jsonb_build_object('ticketTypeId', id, 'quantity', quantity, 'unitPrice', price)
           order by id) from t where id is not null) as items,
        p.* from ${pricing(organizationId, eventId, seats, code)} p`),
  ]);
  const result = rows as unknown as { rows: QuoteRow[] } | QuoteRow[];
  const row = Array.isArray(result) ? result[0] : result.rows[0];
  if (row === undefined || !row.event_found) throw new ApiError('not_found', { detail: 'No event with this slug.' });
  const missing = row.missing ?? [];
  if (missing.length > 0) {
    const index = seats.findIndex((seat) => seat.ticketTypeId === missing[0]);
    throw new ApiError('validation_failed', {
      detail: 'A ticket type is not on sale for this event.',
      errors: [{ pointer: `/body/items/${index}/ticketTypeId`, message: 'no such ticket type for this event' }],
    });
  }
  if (Number(row.currencies) > 1) {
    throw new ApiError('validation_failed', {
      detail: 'All ticket types of one booking must have the same currency.',
      errors: [{ pointer: '/body/items', message: 'ticket types in several currencies' }],
    });
  }
  if (Number(row.subtotal) > 2147483647) {
    throw new ApiError('validation_failed', {
      detail: 'The order total is too large.',
      errors: [{ pointer: '/body/items', message: 'total exceeds the maximum amount' }],
    });
  }
  if (!row.code_ok) throw discountCodeInvalid();
  return {
    currency: row.currency ?? '',
    subtotal: Number(row.subtotal),
    discount: Number(row.discount),
    total: Number(row.total),
    discountCode: row.code,
    items: row.items ?? [],
  };
}

interface QuoteRow {
  event_found: boolean;
  missing: string[] | null;
  currencies: string | number;
  items: Quote['items'] | null;
  total: string | number;
  currency: string | null;
  subtotal: string | number;
  discount: string | number;
  code_id: string | null;
  code: string | null;
  code_ok: boolean;
}
