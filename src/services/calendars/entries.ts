import type { Venue } from '../../db/schema/index.ts';

/**
 * The calendar entries of events and bookings, as plain data (the edge cache keeps them between reads; the formats
 * Worker renders them, src/services/calendars/ics.ts), and the text rules they are built with.
 */

/** One VEVENT, as plain JSON (the edge cache keeps it between reads). */
export interface CalendarEntry {
  /** Globally unique and stable: `{event id}@{ROOT_DOMAIN}` (or with a booking id, see the booking calendar). */
  uid: string;
  /** Grows whenever the entry changes (seconds from the row's creation to its last update). */
  sequence: number;
  /** DTSTAMP and LAST-MODIFIED: the last change (no METHOD, so DTSTAMP is the last modification, RFC 5545 3.8.7.2). */
  modifiedAt: string;
  startsAt: string;
  endsAt: string;
  summary: string;
  description: string;
  location: string | null;
  geo: { lat: number; lon: number } | null;
  url: string | null;
  status: 'confirmed' | 'tentative' | 'cancelled';
  categories: string[];
}

export interface CalendarFile {
  /** X-WR-CALNAME / NAME (a subscribed feed). */
  name?: string | undefined;
  /** X-WR-TIMEZONE: the IANA zone the entries are meant to be shown in (informational; times are UTC). */
  timezone?: string | undefined;
  /** REFRESH-INTERVAL and X-PUBLISHED-TTL, in seconds (a subscribed feed). */
  refreshSeconds?: number | undefined;
  entries: readonly CalendarEntry[];
}

/**
 * iCalendar TEXT may not hold control characters other than HTAB (RFC 5545 3.3.11); line breaks are kept (written
 * as `\n`), a CR LF pair counts as one break.
 */
export function calendarText(value: string): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  return value.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

/** A text cut to at most `max` characters (whole code points), with an ellipsis when cut. */
export function clip(value: string, max: number): string {
  const characters = Array.from(value);
  return characters.length > max ? `${characters.slice(0, max - 1).join('')}…` : value;
}

/** The venue as one LOCATION line: name, address, city, country (those it has). */
export function venueLocation(venue: Venue | null): string | null {
  if (!venue) return null;
  const parts = [venue.name, venue.address, venue.city, venue.country].filter(
    (part): part is string => typeof part === 'string' && part.trim().length > 0,
  );
  return parts.length > 0 ? parts.join(', ') : null;
}

/** GEO of a venue with both coordinates. */
export function venueGeo(venue: Venue | null): CalendarEntry['geo'] {
  if (typeof venue?.latitude !== 'number' || typeof venue.longitude !== 'number') return null;
  return { lat: venue.latitude, lon: venue.longitude };
}

/** SEQUENCE from a row's timestamps: whole seconds from its creation to its last update (grows with every update). */
export function sequenceOf(createdAt: Date, updatedAt: Date): number {
  return Math.max(0, Math.floor((updatedAt.getTime() - createdAt.getTime()) / 1000));
}
