import { ApiError } from '../../errors/api-error.ts';

/**
 * How long a pending booking holds its seats before the sweep expires it. The default is 15 minutes; a Stripe
 * Checkout Session cannot expire sooner than 30 minutes after it is created, so Stripe bookings hold that long, and
 * an offline (manual) payment gets two days to arrive (long enough for a bank transfer, short enough that an order
 * never paid does not keep seats off sale for most of a week).
 */
export const HOLD_MINUTES = { default: 15, stripe: 30, manual: 2 * 24 * 60 } as const;

/**
 * Bounds on unpaid holds, checked inside the checkout batch: a paid order is refused (409 `unpaid_hold_limit`) when
 * the event already has `perClient` pending unexpired bookings from the buyer's client address key (an IPv4 address,
 * an IPv6 /64), or `perEmail` from the buyer's email address, or when the pending seats of that address key would
 * exceed `clientShare` of the event's capacity (at least `clientSeatFloor` seats, so a small event still sells a
 * group its tickets). Free orders are confirmed at once and never held.
 */
export const UNPAID_HOLD_LIMITS = { perClient: 3, perEmail: 2, clientShare: 0.25, clientSeatFloor: 10 } as const;

// Crockford's base32 without I, L, O, U: nothing a door scanner or a person can misread.
const TICKET_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const TICKET_CODE_LENGTH = 12;

/** A ticket code: 12 characters of 32 (60 random bits), unique per organization (a unique index backs it). */
export function newTicketCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TICKET_CODE_LENGTH));
  return [...bytes].map((byte) => TICKET_ALPHABET[byte % 32]).join('');
}

/** A scanned or typed code in stored form: upper case, without spaces or dashes. */
export function normalizeTicketCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}

export function bookingNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No booking with this id.' });
}
