import { z } from '@hono/zod-openapi';

/**
 * The `Idempotency-Key` request header of every creating POST (see src/lib/idempotency.ts for the rules and
 * src/middleware/idempotency.ts for the staff routes). The key is also validated by `idempotencyKey()` (the same
 * rule, the same 400 at `/header/idempotency-key`) before the request body is looked at.
 */
export const IdempotencyHeadersSchema = z.object({
  'idempotency-key': z
    .string()
    // The same rule as idempotencyKey(), as one error; the pattern bounds the length (stated for tools as well).
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .openapi({
      minLength: 1,
      maxLength: 255,
      // The parameter's name is the object key: header names are matched case-insensitively (RFC 9110).
      param: { in: 'header' },
      description:
        'Makes the request safe to retry: the same key with the same body, from the same caller, within 24 hours ' +
        'replays the first successful response (with the header `Idempotent-Replayed: true`) and changes nothing; ' +
        'with another body it answers 422; while the first request is still running it answers 409. Only ' +
        'successful (2xx) responses are kept, so a refused request may be retried with the same key. 1 to 255 ' +
        'visible ASCII characters (else 400); use a random UUID per operation.',
      example: '4f0c2b9e-3a7d-4e51-9b8c-2d1e0f3a4b5c',
    }),
});

/** The response header of a replay. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';
