import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { FEED_DESCRIPTION_MAX, FEED_MAX_EVENTS } from '../../services/calendars/read.ts';
import { MAX_DESCRIPTION_LENGTH } from '../events/schema.ts';

export const CALENDAR_CONTENT_TYPE = 'text/calendar; charset=utf-8';

/**
 * Upper bounds of the files' lengths (characters). A TEXT value at most doubles when escaped (every character a
 * newline, comma, semicolon or backslash) and folding adds 3 characters per 74 octets, so an entry is at most about
 * twice its texts plus 2,000 characters of properties; the bounds round that up.
 */
const ENTRY_OVERHEAD = 4_000;
export const MAX_EVENT_CALENDAR_LENGTH = 2 * MAX_DESCRIPTION_LENGTH + 2 * ENTRY_OVERHEAD;
export const MAX_FEED_ENTRY_LENGTH = 2 * FEED_DESCRIPTION_MAX + ENTRY_OVERHEAD;
export const MAX_FEED_LENGTH = FEED_MAX_EVENTS * MAX_FEED_ENTRY_LENGTH + ENTRY_OVERHEAD;
export const MAX_BOOKING_CALENDAR_LENGTH = 2 * FEED_DESCRIPTION_MAX + 2 * ENTRY_OVERHEAD;

const EXAMPLE_FILE = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Eventra//Calendars//EN',
  'BEGIN:VEVENT',
  'UID:0b8f2c1e-5d3a-4f6b-9c7d-2e1f0a9b8c7d@eventra.app',
  'SEQUENCE:3600',
  'DTSTAMP:20260501T090000Z',
  'DTSTART:20260612T170000Z',
  'DTEND:20260612T200000Z',
  'SUMMARY:Summer Jazz Night',
  'LOCATION:Main Hall\\, Lisbon\\, PT',
  'DESCRIPTION:An evening of music.',
  'STATUS:CONFIRMED',
  'LAST-MODIFIED:20260501T090000Z',
  'END:VEVENT',
  'X-WR-TIMEZONE:Europe/Lisbon',
  'END:VCALENDAR',
  '',
].join('\r\n');

/** A `text/calendar` response body of at most `maxLength` characters. */
export function calendarContent(maxLength: number, description: string) {
  return {
    'text/calendar': {
      schema: z.string().openapi({ maxLength, description, example: EXAMPLE_FILE }),
    },
  };
}

/** The Content-Disposition header of a calendar download (`<name>.ics`, name in [a-z0-9-]). */
export function dispositionHeader(example: string) {
  return z.object({
    'content-disposition': z
      .string()
      .max(140)
      .regex(/^attachment; filename="[a-z0-9-]{1,120}\.ics"$/)
      .openapi({ description: 'attachment; filename="<name>.ics"', example: `attachment; filename="${example}"` }),
  });
}

/** A 200 calendar answer: the file as an attachment named `<name>.ics` (only [a-z0-9-] kept of the name). */
export function calendarResponse(c: Context, text: string, name: string, headers: Record<string, string>): Response {
  const safe =
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .slice(0, 120) || 'calendar';
  return c.body(text, 200, {
    'content-type': CALENDAR_CONTENT_TYPE,
    'content-disposition': `attachment; filename="${safe}.ics"`,
    ...headers,
  });
}
