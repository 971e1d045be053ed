import { WorkerEntrypoint } from 'cloudflare:workers';
import { outcomeOf } from '../lib/feature-workers.ts';
import type { CalendarFile } from '../services/calendars/entries.ts';
import { renderCalendar } from '../services/calendars/ics.ts';
import type { FormatsApi } from '../services/formats/client.ts';
import { checkImage } from '../services/files/image-check.ts';
import type { ImageType } from '../services/files/images.ts';
import { csvRows, type CsvRowsInput } from '../services/imports/csv.ts';
import { expandRule, type ExpandRuleInput } from '../services/series/rules.ts';

/**
 * File and calendar formats, a Worker of its own (workers/formats/wrangler.toml) that the API Worker calls over the
 * service binding FORMATS (RPC: same location, no network hop, no public route): iCalendar files (ical-generator),
 * RRULE expansion of event series (rrule), the check of uploaded images (file-type, image-size and their
 * tokenizers) and CSV import files (csv-parse). About 200 KiB of minified code that only calendar feeds, series,
 * uploads and imports need, kept out of the API
 * Worker's bundle (issue #13, docs/PERFORMANCE.md). Pure functions of plain data; no bindings, no I/O. A refusal (an
 * ApiError: a rule that yields too many dates, an image that is not what it claims) is answered as a value.
 */
export default class Formats extends WorkerEntrypoint implements FormatsApi {
  /** The iCalendar text of a file (src/services/calendars/ics.ts). */
  renderCalendar(file: CalendarFile): Promise<string> {
    return Promise.resolve(renderCalendar(file));
  }

  /** An uploaded image's type and size, or why it is refused (src/services/files/image-check.ts). */
  checkImage(bytes: Uint8Array, declared: ImageType) {
    return outcomeOf(() => checkImage(bytes, declared));
  }

  /** A series' dates within a window, or why its rule is refused (src/services/series/rules.ts). */
  expandRule(input: ExpandRuleInput) {
    return outcomeOf(() => expandRule(input));
  }

  /** The data rows of a CSV import file, or why it cannot be read (src/services/imports/csv.ts). */
  csvRows(input: CsvRowsInput) {
    return outcomeOf(() => csvRows(input));
  }

  /** No HTTP surface: the Worker has no route, and only RPC reaches it. */
  override fetch(): Response {
    return new Response(null, { status: 404 });
  }
}
