import type { OutboxRow } from '../../db/schema/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { EventType } from '../outbox/catalogue.ts';
import type { EventLive } from './event-live.ts';
import { liveObjectName, type BookingFeedItem, type LiveChange } from './messages.ts';

/** Outbox events that move an event's seats (and go to the staff feed of bookings). */
const BOOKING_EVENTS: ReadonlySet<string> = new Set<EventType>([
  'booking.created',
  'booking.confirmed',
  'booking.cancelled',
  'booking.refunded',
  'booking.expired',
]);
const CHECK_IN_EVENT: EventType = 'checkin.created';
/** Outbox events that may take an event out of the public catalogue. */
const EVENT_CHANGES: ReadonlySet<string> = new Set<EventType>(['event.updated', 'event.cancelled']);

/** A booking as the outbox carries it (`BookingView`): what the feed keeps of it. */
type BookingData = Omit<BookingFeedItem, 'type' | 'items'> & { items?: BookingFeedItem['items'] };

function dataOf(row: OutboxRow): Record<string, unknown> | null {
  const payload = row.payload as { data?: unknown } | null;
  const data = payload?.data;
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : null;
}

function feedItem(type: string, data: BookingData): BookingFeedItem {
  return {
    type,
    id: data.id,
    eventId: data.eventId,
    status: data.status,
    buyer: { name: data.buyer.name, email: data.buyer.email },
    total: data.total,
    currency: data.currency,
    items: (data.items ?? []).map((item) => ({ ticketTypeId: item.ticketTypeId, quantity: item.quantity })),
    createdAt: data.createdAt,
    confirmedAt: data.confirmedAt,
  };
}

/** The changes of a set of outbox rows per event: what each event's Durable Object is told. */
export function liveChanges(rows: readonly OutboxRow[]): LiveChange[] {
  const changes = new Map<string, LiveChange>();
  const changeOf = (organizationId: string, eventId: string): LiveChange => {
    const key = liveObjectName(organizationId, eventId);
    let change = changes.get(key);
    if (change === undefined) {
      change = { organizationId, eventId, availability: false, checkIns: false, bookings: [], closePublic: false };
      changes.set(key, change);
    }
    return change;
  };
  for (const row of rows) {
    const data = dataOf(row);
    if (data === null) continue;
    if (BOOKING_EVENTS.has(row.type) && typeof data.eventId === 'string') {
      const change = changeOf(row.organizationId, data.eventId);
      change.availability = true;
      // A cancelled or refunded booking may have had tickets checked in: the counts move too.
      if (row.type !== 'booking.created') change.checkIns = true;
      change.bookings.push({ outboxId: row.id, item: feedItem(row.type, data as unknown as BookingData) });
    } else if (EVENT_CHANGES.has(row.type) && typeof data.id === 'string') {
      // The public stream serves published public or unlisted events only (as it checks when it opens).
      if (data.status !== 'published' || data.visibility === 'private') {
        changeOf(row.organizationId, data.id).closePublic = true;
      }
    } else if (row.type === CHECK_IN_EVENT) {
      const attendee = data.attendee as { eventId?: unknown } | undefined;
      if (typeof attendee?.eventId === 'string') changeOf(row.organizationId, attendee.eventId).checkIns = true;
    }
  }
  return [...changes.values()];
}

/**
 * Tells each changed event's Durable Object what the rows changed (beside the queue sends of the outbox dispatch,
 * after commit): one RPC per event, no database or Redis round trip. A failure is logged, never thrown: the rows
 * are still sent and stamped, and a stream shows the next change (or its next reconnect's snapshot).
 */
export async function announceLiveChanges(
  namespace: DurableObjectNamespace<EventLive> | undefined,
  rows: readonly OutboxRow[],
  logger: Logger,
): Promise<void> {
  if (namespace === undefined) return;
  const changes = liveChanges(rows);
  await Promise.all(
    changes.map(async (change) => {
      try {
        const stub = namespace.get(namespace.idFromName(liveObjectName(change.organizationId, change.eventId)));
        await stub.announce(change);
      } catch (error) {
        logger.warn('outbox dispatch: live change not announced', { eventId: change.eventId, error });
      }
    }),
  );
}
