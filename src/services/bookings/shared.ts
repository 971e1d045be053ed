import { ApiError } from '../../errors/api-error.ts';

/**
 * How long a pending booking holds its seats before the sweep expires it. The default is 15 minutes; a Stripe
 * Checkout Session cannot expire sooner than 30 minutes after it is created, so Stripe bookings hold that long, and
 * an offline (manual) payment gets three days to arrive.
 */
export const HOLD_MINUTES = { default: 15, stripe: 30, manual: 3 * 24 * 60 } as const;

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
