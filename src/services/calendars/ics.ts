import ical, { escape, ICalEventStatus } from 'ical-generator';
import type { Venue } from '../../db/schema/index.ts';

/**
 * iCalendar (RFC 5545) files of events, written by `ical-generator`: it escapes TEXT values (backslash, semicolon,
 * comma, newline), folds lines at 75 octets without splitting a UTF-8 sequence, and ends every line with CRLF.
 *
 * Times are written in UTC (`DTSTART:20261210T180000Z`), which is exact whatever the reader knows of time zones. The
 * event's IANA zone is said with `X-WR-TIMEZONE` where the file has one zone (a single event, a booking). No
 * `TZID`/`VTIMEZONE`: ical-generator writes a TZID time from a plain `Date` in the runtime's own zone (UTC on
 * Workers), so it needs a zone-aware date (`TZDate` of @date-fns/tz, not a dependency yet), and the kept generator
 * of VTIMEZONE blocks (timezones-ical-library) writes each zone's current rules only, so a date under older rules
 * would be misplaced unless checked. See docs/API.md, "Calendars".
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

const PRODUCT_ID = { company: 'Eventra', product: 'Calendars', language: 'EN' };

const STATUS: Record<CalendarEntry['status'], ICalEventStatus> = {
  confirmed: ICalEventStatus.CONFIRMED,
  tentative: ICalEventStatus.TENTATIVE,
  cancelled: ICalEventStatus.CANCELLED,
};

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

/** The iCalendar text of a file (CRLF line endings, folded, escaped). CPU only. */
export function renderCalendar(file: CalendarFile): string {
  const calendar = ical({ prodId: PRODUCT_ID });
  // NAME / X-WR-CALNAME are TEXT, which ical-generator writes unescaped: escaped here.
  if (file.name !== undefined) calendar.name(escape(calendarText(file.name).replace(/\n/g, ' '), false));
  if (file.timezone !== undefined) calendar.x('X-WR-TIMEZONE', file.timezone);
  if (file.refreshSeconds !== undefined) calendar.ttl(file.refreshSeconds);
  for (const entry of file.entries) {
    const location = entry.location === null ? null : calendarText(entry.location).replace(/\n/g, ' ');
    calendar.createEvent({
      id: entry.uid,
      sequence: entry.sequence,
      stamp: new Date(entry.modifiedAt),
      lastModified: new Date(entry.modifiedAt),
      start: new Date(entry.startsAt),
      end: new Date(entry.endsAt),
      summary: calendarText(entry.summary).replace(/\n/g, ' '),
      description: entry.description.length > 0 ? calendarText(entry.description) : null,
      location:
        location === null
          ? entry.geo === null
            ? null
            : { geo: entry.geo }
          : entry.geo === null
            ? location
            : { title: location, geo: entry.geo },
      url: entry.url,
      status: STATUS[entry.status],
      categories: entry.categories
        .map((name) => calendarText(name).replace(/\n/g, ' '))
        .filter((name) => name.length > 0)
        .map((name) => ({ name })),
    });
  }
  // Every content line ends with CRLF (RFC 5545 3.1), the last one included.
  return `${calendar.toString()}\r\n`;
}
