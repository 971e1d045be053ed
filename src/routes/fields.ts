import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../lib/text.ts';

/**
 * The field schemas every route shares, each as strict in the OpenAPI document as the server is (a bounded length,
 * a format or pattern, bounds on numbers), so a client generated from the document cannot build a value the server
 * refuses for a reason the document does not state. Describe the field where it is used:
 * `Uuid.openapi({ description: 'The event.' })`.
 */

/** An organization's slug, the first label of its host: 1 to 63 lowercase letters, digits and inner hyphens. */
export const ORGANIZATION_SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A resource id (UUID, any version, as PostgreSQL's gen_random_uuid and uuidv7 write them). */
export const Uuid = z.uuid().max(36);

/** An instant in ISO 8601 / RFC 3339 with a time zone designator (`Z` or an offset), as the API writes them. */
export const Timestamp = z.iso.datetime({ offset: true }).max(35);

/** Every ISO 4217 code the runtime knows (Intl), uppercase: the document lists them as an enum. */
export const CURRENCY_CODES = Intl.supportedValuesOf('currency') as [string, ...string[]];
export const CurrencyCode = z.enum(CURRENCY_CODES, { error: 'Must be an ISO 4217 currency code (uppercase).' });

/** Whether Intl knows the time zone: an IANA name (`Europe/Paris`, any case) or an offset (`+05:30`). */
export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** Whether the value is exactly one well-formed BCP 47 language tag (`fr-FR`, any case). */
export function isLocale(value: string): boolean {
  try {
    return Intl.getCanonicalLocales(value).length === 1;
  } catch {
    return false;
  }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const isDay = (value: string) => DAY.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;

/** A UTC calendar day in a query (`YYYY-MM-DD`, a real date). */
const dayParam = (description: string, example: string) =>
  z
    .string()
    .refine(isDay, 'Must be a date, YYYY-MM-DD.')
    // What isDay enforces, stated for the document.
    .openapi({ description, example, type: 'string', format: 'date', maxLength: 10, pattern: DAY.source });

/** A day in a response (always written as YYYY-MM-DD). */
export const DayOut = z.string().max(10).regex(DAY).openapi({ format: 'date' });

/** `?from=&to=`: a range of UTC days, both optional (`dayRange` in src/lib/days.ts applies the defaults and bounds). */
export const DayRangeQuerySchema = z
  .object({
    from: dayParam('First UTC day, inclusive (default: 29 days before `to`).', '2026-05-01')
      .optional()
      .openapi({ param: { name: 'from', in: 'query' } }),
    to: dayParam('Last UTC day, inclusive (default: today).', '2026-05-30')
      .optional()
      .openapi({ param: { name: 'to', in: 'query' } }),
  })
  .strict();

/** A whole number that fits PostgreSQL's `integer` (and JSON's safe range), from `min`. */
export function int32(min = 0, max = 2_147_483_647) {
  return z.number().int().min(min).max(max).openapi({ format: 'int32' });
}

/** A whole number up to JavaScript's safe range (PostgreSQL `bigint` counters and sums), from `min`. */
export function int64(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return z.number().int().min(min).max(max).openapi({ format: 'int64' });
}

/**
 * An email address as the API shows it: lowercase, and at most 254 characters because every flow that stores one
 * accepts no more (requests validate with `z.email().max(254)`). Not re-validated as an email on the way out.
 */
export const StoredEmail = z.string().max(254).openapi({ format: 'email' });

/**
 * A currency code in a response: three uppercase letters (the CHECK on every currency column). Requests take
 * `CurrencyCode`; responses do not repeat its enum, because a code stored today and dropped by a later ICU would make
 * the response fail its own schema.
 */
export const StoredCurrencyCode = z
  .string()
  .length(3)
  .regex(/^[A-Z]{3}$/);

/** Stored single-line text as responses show it: checked on the way in, so without control characters. */
export const storedLine = (max: number) => z.string().max(max).regex(WITHOUT_CONTROL_CHARACTERS);

/** An email address as a request gives it (a sign-up, a buyer, an attendee). */
export const EmailSchema = z.string().trim().toLowerCase().max(254).check(z.email()).openapi({
  description: 'Email address; trimmed and lowercased before use.',
  example: 'ada@example.com',
});

/** A person's display name as a request gives it. */
export const NameSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(WITHOUT_CONTROL_CHARACTERS, 'Names cannot contain control characters.')
  .openapi({ description: 'Display name.', example: 'Ada Lovelace' });
