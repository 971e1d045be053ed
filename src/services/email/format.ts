/** Presentation helpers for emails: money from minor units, instants in an event's timezone. */

const DEFAULT_LOCALE = 'en';

/**
 * An amount in minor units as the currency writes it: 1500 EUR -> "€15.00", 1500 JPY -> "¥1,500". The number of
 * minor digits comes from the currency itself (Intl), so zero- and three-decimal currencies come out right.
 */
export function formatMoney(minorUnits: number, currency: string, locale = DEFAULT_LOCALE): string {
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  } catch {
    // Not an ISO 4217 code Intl knows: plain number and code rather than no email.
    return `${(minorUnits / 100).toFixed(2)} ${currency}`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minorUnits / 10 ** digits);
}

/** "Saturday, December 5, 2026 at 19:00 GMT+1" in the event's IANA timezone (UTC when the zone is unknown). */
export function formatEventTime(instant: Date, timeZone: string, locale = DEFAULT_LOCALE): string {
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'long',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  };
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(instant);
  } catch {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: 'UTC' }).format(instant);
  }
}
