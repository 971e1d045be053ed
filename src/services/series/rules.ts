import * as rrulePackage from 'rrule';
import type { Frequency, RRule as RRuleType } from 'rrule';
import { ApiError } from '../../errors/api-error.ts';
import { DAY_MS } from './horizon.ts';

// Bundlers (wrangler, vitest in workerd) load rrule's ESM build; Node's ESM loader (the OpenAPI and SDK scripts)
// loads its CommonJS build, whose exports sit under `default`. Read with Reflect.get: a static `.default` made esbuild
// warn in every `npm run dev` that the ESM build has no such export (the branch bundlers never take).
const { RRule } = (rrulePackage as Partial<typeof rrulePackage>).RRule
  ? rrulePackage
  : (Reflect.get(rrulePackage, 'default') as typeof rrulePackage);
type RRule = RRuleType;

/** The most dates a series may have within its horizon: a rule that yields more is refused (400), not truncated. */
export const MAX_OCCURRENCES = 366;
/** RRULE frequencies accepted: MINUTELY and SECONDLY would only ever be refused by the bound above. */
const ALLOWED_FREQUENCIES = new Set<Frequency>([RRule.YEARLY, RRule.MONTHLY, RRule.WEEKLY, RRule.DAILY, RRule.HOURLY]);
const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

function ruleError(pointer: string, message: string): ApiError {
  return new ApiError('validation_failed', {
    detail: 'The request does not match the schema.',
    errors: [{ pointer, message }],
  });
}

/** A wall-clock time `YYYY-MM-DDTHH:mm` as a "floating" Date: its UTC fields are the wall-clock fields. */
export function floatingTime(local: string): Date | null {
  const match = LOCAL_TIME.exec(local);
  if (!match) return null;
  const [, y, mo, d, h, mi] = match.map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi));
  // Refuses 2026-02-30T25:00 and friends: the fields must survive the round trip.
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  if (date.getUTCHours() !== h || date.getUTCMinutes() !== mi) return null;
  return date;
}

/** The offset of `timeZone` from UTC at the instant `utcMs`, in milliseconds (Intl, as workerd ships it). */
function zoneOffset(utcMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(utcMs));
  const field = (type: string) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const wall = Date.UTC(
    field('year'),
    field('month') - 1,
    field('day'),
    field('hour'),
    field('minute'),
    field('second'),
  );
  return wall - (utcMs - (utcMs % 1000));
}

/**
 * The UTC instant of a floating wall-clock time in `timeZone`. Across a DST change the wall time keeps its local
 * hour (19:00 stays 19:00, its UTC instant moves by the shift). As RFC 5545 section 3.3.5 asks, a wall time that
 * occurs twice (fall back) is its first occurrence, and one skipped by a spring-forward gap lands one hour later.
 */
export function wallToUtc(floating: Date, timeZone: string): Date {
  const guess = floating.getTime();
  const offsets = [zoneOffset(guess - DAY_MS / 2, timeZone), zoneOffset(guess + DAY_MS / 2, timeZone)];
  const exact = offsets.map((offset) => guess - offset).filter((utc) => utc + zoneOffset(utc, timeZone) === guess);
  if (exact.length > 0) return new Date(Math.min(...exact));
  return new Date(guess - Math.min(...offsets));
}

/** A floating time from a UTC instant in `timeZone` (the inverse of wallToUtc). */
function utcToFloating(utc: Date, timeZone: string): Date {
  return new Date(utc.getTime() + zoneOffset(utc.getTime(), timeZone));
}

/** Parses and checks a rule (RRULE parts only, no DTSTART); the pointer of the field at fault on 400. */
export function parseRule(rrule: string, startLocal: string): RRule {
  let options: ReturnType<typeof RRule.parseString>;
  try {
    options = RRule.parseString(rrule.replace(/^RRULE:/i, ''));
  } catch (error) {
    throw ruleError('/body/rrule', error instanceof Error ? error.message : 'Not an RFC 5545 RRULE.');
  }
  // rrule's types say FREQ is always there; a rule without it parses to `freq: undefined`.
  const freq: Frequency | undefined = options.freq;
  if (freq === undefined) throw ruleError('/body/rrule', 'FREQ is required.');
  if (!ALLOWED_FREQUENCIES.has(freq)) {
    throw ruleError('/body/rrule', 'FREQ must be YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY.');
  }
  if (options.dtstart || options.tzid) {
    throw ruleError('/body/rrule', 'Give DTSTART and TZID as startLocal and timezone, not in the rule.');
  }
  const dtstart = floatingTime(startLocal);
  if (!dtstart) throw ruleError('/body/startLocal', 'A local date and time YYYY-MM-DDTHH:mm.');
  return new RRule({ ...options, dtstart });
}

/**
 * The occurrences (UTC starts) of a rule in `timeZone` from `from` to `until`. The rule is expanded in floating
 * (wall-clock) time, then each occurrence is placed in the timezone, so a weekly 19:00 stays 19:00 local across DST.
 * More than MAX_OCCURRENCES in the window answers 400 (/body/rrule): the expansion stops one past the bound, so even
 * FREQ=HOURLY;COUNT=10000 costs 367 steps.
 */
export function occurrences(rule: RRule, timeZone: string, from: Date, until: Date): Date[] {
  // A day of slack each side in floating time covers every UTC offset; the exact window is applied after.
  const floatingFrom = new Date(utcToFloating(from, timeZone).getTime() - DAY_MS);
  const floatingUntil = new Date(utcToFloating(until, timeZone).getTime() + DAY_MS);
  const found: Date[] = [];
  rule.between(floatingFrom, floatingUntil, true, (floating) => {
    const utc = wallToUtc(floating, timeZone);
    if (utc.getTime() < from.getTime() || utc.getTime() > until.getTime()) return true;
    found.push(utc);
    // One past the bound is enough to refuse: the expansion stops there.
    return found.length <= MAX_OCCURRENCES;
  });
  if (found.length > MAX_OCCURRENCES) {
    throw ruleError(
      '/body/rrule',
      `The rule yields more than ${MAX_OCCURRENCES} dates within the horizon; use a sparser rule or a shorter horizon.`,
    );
  }
  return found;
}

/** A series' rule as the UTC starts of its dates from `from` to `until` (parseRule, then occurrences). */
export interface ExpandRuleInput {
  rrule: string;
  startLocal: string;
  timezone: string;
  from: Date;
  until: Date;
}

/** The formats Worker's `expandRule`: the dates of a rule, or the 400 that parseRule or occurrences answers. */
export function expandRule(input: ExpandRuleInput): Date[] {
  return occurrences(parseRule(input.rrule, input.startLocal), input.timezone, input.from, input.until);
}
