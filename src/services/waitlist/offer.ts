import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import {
  attendees,
  bookingItems,
  bookings,
  events,
  organizations,
  paymentSettings,
  payments,
  ticketTypes,
  waitlistEntries,
  type OutboxRow,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import type { ClientInfo } from '../../lib/client.ts';
import type { Logger } from '../../lib/logger.ts';
import { originOnHost } from '../../lib/origin.ts';
import { auditInsert } from '../audit/record.ts';
import { generateOpaqueToken, hashToken } from '../auth/tokens.ts';
import { emailBranding, emailEnvelope } from '../email/branding.ts';
import { formatEventTime } from '../email/format.ts';
import { message } from '../email/messages.ts';
import { abortLabel, nothingChanged } from '../events/shared.ts';
import { outboxInsertEachSql, outboxInsertSelect } from '../outbox/record.ts';
import { takeSeats } from '../bookings/inventory.ts';
import { newTicketCode } from '../bookings/shared.ts';
import { waitlistEntryData, waitlistEntryObject } from './views.ts';

/** How long an offer holds its seats before it passes on to the next in line. */
export const OFFER_MINUTES = 24 * 60;
/** At most this many offers per event and run (the next release event or sweep continues). */
const OFFERS_PER_RUN = 20;

/** The outbox events after which seats may be free again: the waitlist's offer step runs for their events. */
export const SEAT_RELEASE_EVENTS: ReadonlySet<string> = new Set([
  'booking.cancelled',
  'booking.expired',
  'booking.refunded',
  'ticket_type.updated',
  'event.updated',
]);

const SYSTEM_CLIENT: ClientInfo = { ip: null, addressKey: null, userAgent: 'eventra-waitlist', requestId: 'waitlist' };

interface Candidate {
  id: string;
  ticket_type_id: string;
  name: string;
  email: string;
  group_size: number;
  free: number;
  event_title: string;
  starts_at: string;
  timezone: string;
  organization_slug: string;
  organization_name: string;
  branding: unknown;
}

/**
 * The head of each ticket type's queue of one event (strict FIFO: the oldest waiting entry, by created_at then id),
 * with the seats free for it right now (the least of the ticket type's and the event's free seats). An entry whose
 * group does not fit is not skipped: the queue waits until enough seats are free for it (a group of 3 is offered
 * exactly 3 seats, never fewer, and people behind it do not overtake it).
 */
function heads(db: Database, organizationId: string, eventId: string) {
  return db.execute(sql`select distinct on (w.ticket_type_id) w.id, w.ticket_type_id, w.name, w.email, w.group_size,
      least(t.quantity - t.sold - t.held, coalesce(e.capacity - e.sold - e.held, 2147483647))::int as free,
      e.title as event_title, e.starts_at::text as starts_at, e.timezone, o.slug as organization_slug,
      o.name as organization_name, o.branding
    from ${waitlistEntries} w
    join ${ticketTypes} t on t.organization_id = w.organization_id and t.id = w.ticket_type_id
    join ${events} e on e.organization_id = w.organization_id and e.id = w.event_id
    join ${organizations} o on o.id = w.organization_id
    where w.organization_id = ${organizationId} and w.event_id = ${eventId} and w.status = 'waiting'
      and e.status = 'published' and e.ends_at > now()
    order by w.ticket_type_id, w.created_at, w.id`);
}

/**
 * Settles offers whose booking ended: confirmed -> claimed, cancelled or expired -> expired (the offer passed on).
 */
function settleOffers(db: Database, organizationId: string, eventId: string) {
  // Each settled entry publishes `waitlist.claimed` (its offer was paid) or `waitlist.expired` (it lapsed or was
  // cancelled, and the seats pass on), in this statement.
  const published = (type: 'waitlist.claimed' | 'waitlist.expired', status: 'claimed' | 'expired') =>
    outboxInsertEachSql(
      { organizationId, type, data: waitlistEntryObject('s') },
      sql`settled s where s.status = ${status}::waitlist_status`,
    );
  return db.execute(sql`with settled as (
      update ${waitlistEntries} w
      set status = (case b.status when 'confirmed' then 'claimed' else 'expired' end)::waitlist_status,
        updated_at = now()
      from ${bookings} b
      where w.organization_id = ${organizationId} and w.event_id = ${eventId} and w.status = 'offered'
        and b.organization_id = w.organization_id and b.id = w.booking_id
        and b.status in ('confirmed', 'cancelled', 'expired')
      returning w.*),
    claimed as (${published('waitlist.claimed', 'claimed')}),
    expired as (${published('waitlist.expired', 'expired')})
    select count(*) as settled from settled`);
}

function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/**
 * One offer, as one batch: a pending booking for exactly the entry's group (buyer and attendees = the entry's name and email; total from the ticket type's price;
 * expires after OFFER_MINUTES), the entry waiting -> offered (aborts when it is no longer waiting), the booking's items, tickets and payment row, the audit row, the `waitlist.offered` event,
 * and last the seats, taken with the checkout's own conditional UPDATEs (`takeSeats`, held): when a normal buyer took
 * them first the batch aborts (`sold_out`) and nothing is offered. Returns the booking id and its token, or null.
 */
async function offerOne(
  db: Database,
  organizationId: string,
  eventId: string,
  entry: Candidate,
): Promise<{ bookingId: string; token: string } | null> {
  const bookingId = crypto.randomUUID();
  const token = generateOpaqueToken('bk');
  const tokenHash = await hashToken(token);
  const seats = [{ ticketTypeId: entry.ticket_type_id, quantity: entry.group_size }];
  const provider = sql`(case when t.price = 0 then 'free'
      when (select stripe_secret_key is not null from ${paymentSettings} where organization_id = ${organizationId})
        then 'stripe' else 'manual' end)::payment_provider`;
  try {
    await scoped(db, { organizationId }, [
      db.execute(sql`insert into ${bookings} (id, organization_id, event_id, status, buyer_name, buyer_email, total,
          currency, provider, token_hash, answers, expires_at)
        select ${bookingId}, ${organizationId}, ${eventId}, 'pending', ${entry.name}, ${entry.email},
          t.price * ${entry.group_size}::int, t.currency, ${provider}, ${tokenHash}, '{}'::jsonb,
          now() + make_interval(mins => ${OFFER_MINUTES}::int)
        from ${ticketTypes} t where t.organization_id = ${organizationId} and t.id = ${entry.ticket_type_id}`),
      db.execute(sql`with changed as (update ${waitlistEntries} set status = 'offered', booking_id = ${bookingId},
          offered_at = now(), updated_at = now()
        where organization_id = ${organizationId} and id = ${entry.id} and status = 'waiting' returning id)
        select (case when exists (select 1 from changed) then '0' else 'eventra_guard:unchanged' end)::int as guard`),
      db.execute(sql`insert into ${bookingItems} (organization_id, booking_id, ticket_type_id, quantity, unit_price)
        select ${organizationId}, ${bookingId}, t.id, ${entry.group_size}::int, t.price from ${ticketTypes} t
        where t.organization_id = ${organizationId} and t.id = ${entry.ticket_type_id}`),
      db.insert(attendees).values(
        Array.from({ length: entry.group_size }, (_, position) => ({
          organizationId,
          bookingId,
          ticketTypeId: entry.ticket_type_id,
          name: entry.name,
          email: entry.email,
          answers: {},
          ticketCode: newTicketCode(),
          position,
        })),
      ),
      db.execute(sql`insert into ${payments} (id, organization_id, booking_id, provider, status, amount, currency)
        select gen_random_uuid(), ${organizationId}, b.id, b.provider, 'pending', b.total, b.currency
        from ${bookings} b where b.organization_id = ${organizationId} and b.id = ${bookingId}`),
      auditInsert(db, SYSTEM_CLIENT, {
        organizationId,
        actor: { type: 'system' },
        action: 'waitlist.offered',
        target: { type: 'waitlist_entry', id: entry.id },
        metadata: { eventId, bookingId, ticketTypeId: entry.ticket_type_id, groupSize: entry.group_size },
      }),
      outboxInsertSelect(db, {
        organizationId,
        type: 'waitlist.offered',
        data: waitlistEntryData(organizationId, entry.id),
      }),
      ...takeSeats(db, organizationId, sql`${eventId}::uuid`, seats, sql`false`),
    ]);
    return { bookingId, token };
  } catch (error) {
    // Someone else offered this entry, or a buyer took the seats first: no offer (the next release tries again).
    if (nothingChanged(error) || abortLabel(error) !== null) return null;
    throw error;
  }
}

function offerEmail(
  bindings: Pick<Bindings, 'ENVIRONMENT' | 'ROOT_DOMAIN'>,
  entry: Candidate,
  offer: { bookingId: string; token: string },
) {
  const url = new URL(
    '/waitlist/claim',
    originOnHost(null, `${entry.organization_slug}.${bindings.ROOT_DOMAIN}`, bindings),
  );
  url.searchParams.set('booking', offer.bookingId);
  url.searchParams.set('token', offer.token);
  const branding = emailBranding({ name: entry.organization_name, branding: entry.branding });
  const seats = entry.group_size === 1 ? '1 ticket' : `${entry.group_size} tickets`;
  return message(
    `waitlist-offer:${offer.bookingId}`,
    entry.email,
    branding,
    `Tickets are available for ${entry.event_title}`,
    [
      `Hello ${entry.name},`,
      `You were on the waitlist for ${entry.event_title} (${formatEventTime(new Date(entry.starts_at), entry.timezone)}). ` +
        `We are holding ${seats} for you for ${OFFER_MINUTES / 60} hours.`,
      'If you do not claim them in time, they are offered to the next person in line. Cannot come? The same page ' +
        'lets you decline, and they go to the next person at once.',
    ],
    { label: 'Claim your tickets', url: url.toString() },
  );
}

/**
 * The offer step for one event: settles ended offers, then offers free seats to the head of each ticket type's
 * queue while its group fits (several in a row when enough seats are free), each offer its own batch (`offerOne`).
 * The offer email (with the booking id and its token in the claim link; the token exists nowhere else) is put on
 * EMAIL_QUEUE after the offer committed. Returns how many offers were made.
 */
export async function offerWaitlistSeats(
  db: Database,
  bindings: Pick<Bindings, 'EMAIL_QUEUE' | 'ENVIRONMENT' | 'ROOT_DOMAIN'>,
  logger: Logger,
  organizationId: string,
  eventId: string,
): Promise<number> {
  let offered = 0;
  for (let round = 0; round < OFFERS_PER_RUN; round += 1) {
    const [, result] = await scoped(db, { organizationId }, [
      settleOffers(db, organizationId, eventId),
      heads(db, organizationId, eventId),
    ]);
    const fitting = rowsOf<Candidate>(result).filter((entry) => entry.group_size <= entry.free);
    if (fitting.length === 0) break;
    let progress = false;
    for (const entry of fitting) {
      const offer = await offerOne(db, organizationId, eventId, entry);
      if (offer === null) continue;
      progress = true;
      offered += 1;
      try {
        await bindings.EMAIL_QUEUE.send(emailEnvelope(offerEmail(bindings, entry, offer), organizationId), {
          contentType: 'json',
        });
      } catch (error) {
        logger.error('waitlist offer email not queued', { organizationId, bookingId: offer.bookingId, error });
      }
    }
    if (!progress) break;
  }
  if (offered > 0) logger.info('waitlist offers made', { organizationId, eventId, offered });
  return offered;
}

/** The (organization, event) pairs whose seats the rows may have freed. */
export function releasedEvents(rows: readonly OutboxRow[]): { organizationId: string; eventId: string }[] {
  const seen = new Map<string, { organizationId: string; eventId: string }>();
  for (const row of rows) {
    if (!SEAT_RELEASE_EVENTS.has(row.type)) continue;
    const data = (row.payload as { data?: { eventId?: unknown; id?: unknown } } | null)?.data;
    const eventId = row.type === 'event.updated' ? data?.id : data?.eventId;
    if (typeof eventId !== 'string') continue;
    seen.set(`${row.organizationId}:${eventId}`, { organizationId: row.organizationId, eventId });
  }
  return [...seen.values()];
}

/** Runs the offer step for every event the rows released seats of; failures are logged (the next release retries). */
export async function offerAfterRelease(
  db: Database,
  bindings: Pick<Bindings, 'EMAIL_QUEUE' | 'ENVIRONMENT' | 'ROOT_DOMAIN'>,
  logger: Logger,
  rows: readonly OutboxRow[],
): Promise<void> {
  for (const { organizationId, eventId } of releasedEvents(rows)) {
    try {
      await offerWaitlistSeats(db, bindings, logger, organizationId, eventId);
    } catch (error) {
      logger.error('waitlist offer step failed', { organizationId, eventId, error });
    }
  }
}
