import type { Bindings } from '../../env.ts';
import { callFeatureWorker, valueOf, type Outcome } from '../../lib/feature-workers.ts';
import type { Logger } from '../../lib/logger.ts';
import type { CalendarFile } from '../calendars/entries.ts';
import type { CheckedImage, ImageType } from '../files/images.ts';
import type { CsvRowsInput } from '../imports/csv.ts';
import type { SourceRow } from '../imports/rows.ts';
import type { ExpandRuleInput } from '../series/rules.ts';

/**
 * The formats Worker (src/workers/formats.ts, over the FORMATS service binding): iCalendar files (ical-generator),
 * RRULE expansion (rrule), the check of uploaded images (file-type, image-size) and CSV import files (csv-parse),
 * whose libraries stay out of the API Worker's bundle (issue #13). Type-only imports of the modules it runs. A refusal comes back as the ApiError it
 * was (valueOf); a Worker that cannot be reached is a 503 (callFeatureWorker).
 */
export interface FormatsApi {
  renderCalendar(file: CalendarFile): Promise<string>;
  checkImage(bytes: Uint8Array, declared: ImageType): Promise<Outcome<CheckedImage>>;
  expandRule(input: ExpandRuleInput): Promise<Outcome<Date[]>>;
  csvRows(input: CsvRowsInput): Promise<Outcome<SourceRow[]>>;
}

export interface FormatsContext {
  bindings: Pick<Bindings, 'FORMATS'>;
  logger: Logger;
}

/**
 * A call to the formats Worker: the binding's stub, typed as the methods the Worker implements (the generated stub
 * types of a service binding do not carry a method's union result through); unreachable, a 503.
 */
function formats<T>(ctx: FormatsContext, call: (worker: FormatsApi) => Promise<T>, detail: string): Promise<T> {
  const worker = ctx.bindings.FORMATS as unknown as FormatsApi;
  return callFeatureWorker(ctx, 'FORMATS', () => call(worker), detail);
}

/** The iCalendar text of a file (src/services/calendars/ics.ts). */
export function renderIcs(ctx: FormatsContext, file: CalendarFile): Promise<string> {
  return formats(ctx, (worker) => worker.renderCalendar(file), 'Calendars cannot be written right now.');
}

/** The checked type and size of an upload's bytes, or its 400/415/422 (src/services/files/image-check.ts). */
export async function checkUpload(ctx: FormatsContext, bytes: Uint8Array, declared: ImageType): Promise<CheckedImage> {
  return valueOf(
    await formats(ctx, (worker) => worker.checkImage(bytes, declared), 'Images cannot be checked right now.'),
  );
}

/** The UTC starts of a series' rule within the window, or its 400 (src/services/series/rules.ts). */
export async function seriesStarts(ctx: FormatsContext, input: ExpandRuleInput): Promise<Date[]> {
  return valueOf(
    await formats(ctx, (worker) => worker.expandRule(input), 'Series dates cannot be computed right now.'),
  );
}

/** The data rows of a CSV import file, or its 400/413 (src/services/imports/csv.ts). */
export async function csvRowsOf(ctx: FormatsContext, input: CsvRowsInput): Promise<SourceRow[]> {
  return valueOf(await formats(ctx, (worker) => worker.csvRows(input), 'Imports cannot be read right now.'));
}
