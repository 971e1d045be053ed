import ical, { escape, ICalEventStatus } from 'ical-generator';
import { calendarText, type CalendarEntry, type CalendarFile } from './entries.ts';

/**
 * iCalendar (RFC 5545) files of events, written by `ical-generator` in the formats Worker (src/workers/formats.ts):
 * it escapes TEXT values (backslash, semicolon, comma, newline), folds lines at 75 octets without splitting a UTF-8
 * sequence, and ends every line with CRLF.
 *
 * Times are written in UTC (`DTSTART:20261210T180000Z`), which is exact whatever the reader knows of time zones. The
 * event's IANA zone is said with `X-WR-TIMEZONE` where the file has one zone (a single event, a booking). No
 * `TZID`/`VTIMEZONE`: ical-generator writes a TZID time from a plain `Date` in the runtime's own zone (UTC on
 * Workers), so it needs a zone-aware date (`TZDate` of @date-fns/tz, not a dependency yet), and the kept generator
 * of VTIMEZONE blocks (timezones-ical-library) writes each zone's current rules only, so a date under older rules
 * would be misplaced unless checked. See docs/API.md, "Calendars".
 */

const PRODUCT_ID = { company: 'Eventra', product: 'Calendars', language: 'EN' };

const STATUS: Record<CalendarEntry['status'], ICalEventStatus> = {
  confirmed: ICalEventStatus.CONFIRMED,
  tentative: ICalEventStatus.TENTATIVE,
  cancelled: ICalEventStatus.CANCELLED,
};

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
