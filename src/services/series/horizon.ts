/** How far ahead a series' dates are materialized by default, and at most (days). */
export const DEFAULT_HORIZON_DAYS = 180;
export const MAX_HORIZON_DAYS = 366;

export const DAY_MS = 86_400_000;

/** The end of a series' horizon seen from `now`. */
export function horizonEnd(now: Date, horizonDays: number): Date {
  return new Date(now.getTime() + horizonDays * DAY_MS);
}
