import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';

/**
 * Issuing invoices and credit notes as batch statements (issue #18 part 4).
 *
 * Numbering: one gap-free sequence per organization, shared by invoices and credit notes, kept in
 * `invoice_settings.next_number`. Each statement below takes its number with `insert ... on conflict do update set
 * next_number = next_number + 1 returning` and inserts the document in the SAME statement, inside the batch (one
 * transaction) that confirms the booking or records the refund. The counter row is locked from that update until
 * the transaction commits, so concurrent confirmations take numbers one after another (unique), and a number is
 * consumed only together with the document that carries it (gap-free: both commit or neither does). A booking that
 * gets no document (free) does not touch the counter.
 *
 * Tax: ticket prices are gross (tax included). Per invoice line (one per ticket type of the booking):
 * gross = quantity x unit price; tax = gross x rate / (10000 + rate), rounded half up to the minor unit;
 * net = gross - tax. The invoice's net, tax and gross are the sums of its lines, so lines always add up.
 * A discount code's amount (`bookings.discount_amount`) lowers the lines it applied to (the code's ticket types, or
 * every line for a whole-order code or one deleted since), shared in proportion to their gross and the remainder
 * given out minor unit by minor unit (largest remainder), before tax: each line's gross is what was paid for it, and
 * the invoice's gross equals the booking's total.
 * A credit note's tax is the refunded amount's share of the invoice's tax (amount x invoice tax / invoice gross,
 * rounded half up); its net is the rest.
 */

/** `prefix` then the sequence number, zero-padded to at least six digits: `INV-000042`. */
const numberOf = (sequence: SQL, prefix: SQL) =>
  sql`${prefix} || lpad(${sequence}::text, greatest(6, length(${sequence}::text)), '0')`;

/** Takes the next number of the organization, only when `source` (a CTE name) has a row. */
const takeNumber = (organizationId: string, source: string) => sql`n as (
    insert into invoice_settings (organization_id, next_number)
    select ${organizationId}::uuid, 2 from ${sql.raw(source)}
    on conflict (organization_id) do update set next_number = invoice_settings.next_number + 1, updated_at = now()
    returning next_number - 1 as sequence, prefix, legal_name, address, tax_id)`;

/**
 * The invoice of a booking, issued when it is confirmed and not free (`total > 0`); nothing (and no number taken)
 * for a free booking or one that has an invoice already. Put it in the confirming batch, after the booking's
 * status change.
 */
export function issueInvoice(db: Database, organizationId: string, bookingId: string) {
  return db.execute(sql`with b as (
      select id, buyer_name, buyer_email, currency, total, discount_amount, discount_code_id from bookings
      where organization_id = ${organizationId} and id = ${bookingId} and total > 0
        and not exists (select 1 from invoices i where i.organization_id = ${organizationId}
          and i.booking_id = ${bookingId} and i.kind = 'invoice')),
    items as (
      select tt.name, tt.sort_order, bi.ticket_type_id, bi.quantity, bi.unit_price, tt.tax_rate,
        (bi.quantity::bigint * bi.unit_price) as listed,
        coalesce((select cardinality(dc.ticket_type_ids) = 0 or bi.ticket_type_id = any(dc.ticket_type_ids)
          from discount_codes dc, b
          where dc.organization_id = ${organizationId} and dc.id = b.discount_code_id), true) as discounted
      from booking_items bi
      join ticket_types tt on tt.organization_id = bi.organization_id and tt.id = bi.ticket_type_id
      where bi.organization_id = ${organizationId} and bi.booking_id = ${bookingId}),
    eligible as (select coalesce(sum(listed) filter (where discounted), 0)::bigint as amount from items),
    shares as (
      select items.*,
        case when discounted and eligible.amount > 0 then listed * b.discount_amount / eligible.amount else 0 end
          as share,
        case when discounted and eligible.amount > 0 then listed * b.discount_amount % eligible.amount else 0 end
          as remainder
      from items, b, eligible),
    ranked as (
      select shares.*, b.discount_amount - (sum(share) over ())::bigint as leftover,
        row_number() over (order by discounted desc, remainder desc, sort_order, ticket_type_id) as rank
      from shares, b),
    lines as (
      select name, sort_order, quantity, unit_price, tax_rate, listed,
        listed - share - (case when discounted and rank <= leftover then 1 else 0 end) as gross
      from ranked),
    l as (
      select name, sort_order, quantity, unit_price, tax_rate, gross, listed - gross as discount,
        ((2 * gross * tax_rate + (10000 + tax_rate)) / (2 * (10000 + tax_rate))) as tax
      from lines),
    ${takeNumber(organizationId, 'b')}
    insert into invoices (organization_id, booking_id, kind, sequence, number, currency, net, tax, gross, lines,
      seller, buyer_name, buyer_email)
    select ${organizationId}, b.id, 'invoice', n.sequence, ${numberOf(sql`n.sequence`, sql`n.prefix`)}, b.currency,
      (select coalesce(sum(gross - tax), 0) from l), (select coalesce(sum(tax), 0) from l),
      (select coalesce(sum(gross), 0) from l),
      (select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('description', name, 'quantity', quantity,
        'unitPrice', unit_price, 'taxRate', tax_rate, 'discount', nullif(discount, 0), 'net', gross - tax, 'tax', tax,
        'gross', gross)) order by sort_order, name), '[]') from l),
      jsonb_build_object('legalName', n.legal_name, 'address', n.address, 'taxId', n.tax_id),
      b.buyer_name, b.buyer_email
    from b, n`);
}

/**
 * The credit note of a refund: `amount` (minor units) returned against the booking's invoice, with the next number
 * of the same sequence. Nothing (and no number taken) when the booking has no invoice (free, or confirmed before
 * invoices existed). Put it in the batch that records the refund.
 */
export function issueCreditNote(
  db: Database,
  organizationId: string,
  bookingId: string,
  refundId: string,
  amount: number,
) {
  return db.execute(sql`with inv as (
      select number, currency, tax, gross, buyer_name, buyer_email, seller from invoices
      where organization_id = ${organizationId} and booking_id = ${bookingId} and kind = 'invoice' and gross > 0),
    c as (select inv.*, (2 * ${amount}::bigint * inv.tax + inv.gross) / (2 * inv.gross) as ctax from inv),
    ${takeNumber(organizationId, 'c')}
    insert into invoices (organization_id, booking_id, kind, sequence, number, refund_id, currency, net, tax, gross,
      lines, seller, buyer_name, buyer_email)
    select ${organizationId}, ${bookingId}, 'credit_note', n.sequence, ${numberOf(sql`n.sequence`, sql`n.prefix`)},
      ${refundId}, c.currency, ${amount} - c.ctax, c.ctax, ${amount},
      jsonb_build_array(jsonb_build_object('description', 'Refund against invoice ' || c.number, 'quantity', 1,
        'unitPrice', ${amount}::int, 'taxRate', null, 'net', ${amount} - c.ctax, 'tax', c.ctax, 'gross', ${amount}::int)),
      c.seller, c.buyer_name, c.buyer_email
    from c, n`);
}
