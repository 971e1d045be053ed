import { ApiError } from '../errors/api-error.ts';

/** UTC calendar days as the API writes them (`YYYY-MM-DD`): usage and the platform metrics. */

export const DAY_MS = 86_400_000;

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function utcDay(at: number | Date = Date.now()): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** The instant a UTC day starts. */
export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** Every day of `from`..`to` (inclusive), oldest first. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let at = dayStart(from); at <= dayStart(to); at += DAY_MS) days.push(utcDay(at));
  return days;
}

function rangeError(message: string): ApiError {
  return new ApiError('validation_failed', {
    detail: 'The request does not match the schema.',
    errors: [{ pointer: '/query/from', message }],
  });
}

/**
 * A range of UTC days from optional `from` and `to` query parameters (already checked to be dates): `to` defaults
 * to today, `from` to 29 days before `to` (30 days in all). 400 `validation_failed` when `from` is after `to` or the
 * range spans more than `maxDays` days.
 */
export function dayRange(
  input: { from?: string | undefined; to?: string | undefined },
  maxDays: number,
  now = Date.now(),
): { from: string; to: string } {
  const to = input.to ?? utcDay(now);
  const from = input.from ?? utcDay(dayStart(to) - 29 * DAY_MS);
  const span = (dayStart(to) - dayStart(from)) / DAY_MS + 1;
  if (span < 1) throw rangeError('Must not be after `to`.');
  if (span > maxDays) throw rangeError(`The range may span at most ${maxDays} days.`);
  return { from, to };
}
