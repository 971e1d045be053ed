import { sql, type SQL } from 'drizzle-orm';
import { waitlistEntries } from '../../db/schema/index.ts';
import { isoText } from '../outbox/views.ts';

/** A waitlist entry as staff and webhooks see it (never its tokens). */
export interface WaitlistEntryView {
  id: string;
  eventId: string;
  ticketTypeId: string;
  name: string;
  email: string;
  groupSize: number;
  status: 'waiting' | 'offered' | 'claimed' | 'expired' | 'left';
  bookingId: string | null;
  offeredAt: string | null;
  createdAt: string;
}

/** The entry's view as jsonb, for outbox payloads (`data` of `waitlist.*` events) and the staff list. */
export function waitlistEntryObject(alias: string): SQL {
  const c = (name: string) => sql.raw(`${alias}.${name}`);
  return sql`jsonb_build_object('id', ${c('id')}, 'eventId', ${c('event_id')}, 'ticketTypeId', ${c('ticket_type_id')},
    'name', ${c('name')}, 'email', ${c('email')}, 'groupSize', ${c('group_size')}, 'status', ${c('status')},
    'bookingId', ${c('booking_id')}, 'offeredAt', ${isoText(c('offered_at'))}, 'createdAt', ${isoText(c('created_at'))})`;
}

/** The entry's view after the batch's earlier statements, as an outbox `data` subquery. */
export function waitlistEntryData(organizationId: string, entryId: string): SQL {
  return sql`(select ${waitlistEntryObject('w')} from ${waitlistEntries} w
    where w.organization_id = ${organizationId} and w.id = ${entryId})`;
}
