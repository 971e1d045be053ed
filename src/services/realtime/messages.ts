import type { AvailabilitySnapshot, CheckInSnapshot } from './snapshots.ts';

/**
 * What passes between the outbox dispatch, an event's Durable Object (event-live.ts) and the Worker's streams
 * (stream.ts). Types only: the Worker's entry imports the Durable Object class, which must stay light.
 */

/** The streams of an event: public seats left, staff check-in counts, the staff feed of bookings. */
export type LiveChannel = 'availability' | 'check-ins' | 'bookings';
export const LIVE_CHANNELS: readonly LiveChannel[] = ['availability', 'check-ins', 'bookings'];

export function isLiveChannel(value: string | null): value is LiveChannel {
  return value !== null && (LIVE_CHANNELS as readonly string[]).includes(value);
}

/** A booking as the staff feed shows it: who booked what, without tickets, codes or payment details. */
export interface BookingFeedItem {
  /** The outbox event this comes from (`booking.created`, `booking.confirmed`, ...). */
  type: string;
  id: string;
  eventId: string;
  status: string;
  buyer: { name: string; email: string };
  total: number;
  currency: string;
  items: { ticketTypeId: string; quantity: number }[];
  createdAt: string;
  confirmedAt: string | null;
}

/** One message of a stream: the SSE event name, its id and its data. */
export type LiveMessage =
  | { event: 'availability'; id: string; data: AvailabilitySnapshot }
  | { event: 'check-ins'; id: string; data: CheckInSnapshot }
  | { event: 'booking'; id: string; data: BookingFeedItem };

/** What one outbox dispatch tells an event's Durable Object. */
export interface LiveChange {
  organizationId: string;
  eventId: string;
  /** Seats changed: the Object re-reads the availability (when someone watches). */
  availability: boolean;
  /** A ticket was checked in: the Object re-reads the counts (when someone watches). */
  checkIns: boolean;
  /** New or changed bookings for the staff feed, oldest first, each with its outbox id. */
  bookings: { outboxId: string; item: BookingFeedItem }[];
  /** The event is no longer public and on sale (cancelled, made private...): its public streams end. */
  closePublic: boolean;
}

/** The WebSocket close code with which the Object ends the public streams of an event that left the catalogue. */
export const EVENT_UNAVAILABLE_CLOSE = 4404;

/** The Durable Object's name of an event (one Object per event, per organization). */
export function liveObjectName(organizationId: string, eventId: string): string {
  return `${organizationId}:${eventId}`;
}

/**
 * The id of a snapshot message: a prefix and a hash (32-bit FNV-1a) of what it shows, without its read time, so a
 * reconnecting client whose `Last-Event-ID` names the same content is not sent it again.
 */
export function snapshotId(prefix: 'a' | 'c', data: { at: number }): string {
  const { at: _at, ...content } = data;
  let hash = 0x811c9dc5;
  for (const char of JSON.stringify(content)) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${prefix}${hash.toString(16).padStart(8, '0')}`;
}
