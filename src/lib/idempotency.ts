import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { idempotencyKeys } from '../db/schema/index.ts';
import { scoped } from '../db/tenant.ts';
import { ApiError } from '../errors/api-error.ts';
import { abortLabel, mustChange } from '../services/events/shared.ts';
import { databaseError } from '../services/users/guards.ts';
import { hashToken } from '../services/auth/tokens.ts';

/**
 * Idempotency-Key (pretix's and Stripe's rules): a creating POST sent again with the same key and the same body, by
 * the same caller, within 24 hours, gets the first response again (with `Idempotent-Replayed: true`) and changes
 * nothing; the same key with another body is a 422 problem; a request still in flight with that key is a 409
 * problem. Only successful (2xx) responses are kept: a refused request may be retried with the same key.
 *
 * The claim is a statement in the same batch as the change, so the record and the change commit together or not at
 * all. A second request with the key waits at most CLAIM_LOCK_TIMEOUT for the first one's transaction (the claim
 * row is locked until it commits) and then answers 409, or replays once the first committed.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_TTL_HOURS = 24;
const CLAIM_LOCK_TIMEOUT = '250ms';
// A claim left without a response this long (its Worker died mid-request) may be taken over by a retry.
const STALE_CLAIM_SECONDS = '60';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyClaim {
  organizationId: string;
  /** The caller: `user:<id>` for a signed-in member, `public` for anonymous checkout. */
  scope: string;
  key: string;
  /** SHA-256 of the method, path and raw body. */
  requestHash: string;
}

/** The Idempotency-Key header, validated (1 to 255 visible ASCII characters), or undefined when absent. */
export function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!KEY_PATTERN.test(header)) {
    throw new ApiError('validation_failed', {
      detail: 'The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID is a good choice).',
      errors: [{ pointer: '/header/idempotency-key', message: 'must be 1 to 255 visible ASCII characters' }],
    });
  }
  return header;
}

export function requestHash(method: string, path: string, body: string): Promise<string> {
  return hashToken(`${method} ${path}\n${body}`);
}

function keyMatches(claim: IdempotencyClaim): SQL | undefined {
  return and(
    eq(idempotencyKeys.organizationId, claim.organizationId),
    eq(idempotencyKeys.scope, claim.scope),
    eq(idempotencyKeys.key, claim.key),
  );
}

/**
 * The batch statements that claim the key: a short lock timeout (so a request in flight with the key answers 409
 * instead of waiting), the claim (a new row, or an expired one taken over), then the lock timeout back to none.
 * The claim aborts the batch with `idempotent_replay` when the key is already used.
 */
export function claimStatements(db: Database, claim: IdempotencyClaim) {
  return [
    db.execute(sql`select set_config('lock_timeout', ${CLAIM_LOCK_TIMEOUT}, true)`),
    mustChange(
      db,
      sql`(insert into ${idempotencyKeys} (organization_id, scope, key, request_hash, expires_at)
        values (${claim.organizationId}, ${claim.scope}, ${claim.key}, ${claim.requestHash},
          now() + make_interval(hours => ${IDEMPOTENCY_TTL_HOURS}))
        on conflict (organization_id, scope, key) do update
          set request_hash = excluded.request_hash, status = null, response = null, created_at = now(),
            expires_at = excluded.expires_at
          where ${idempotencyKeys.expiresAt} <= now()
            or (${idempotencyKeys.status} is null and ${idempotencyKeys.createdAt} < now() - interval '${sql.raw(STALE_CLAIM_SECONDS)} seconds')
        returning 1)`,
      'idempotent_replay',
    ),
    db.execute(sql`select set_config('lock_timeout', '0', true)`),
  ] as const;
}

/** The statement (last in the batch) that records the response; `response` is a jsonb SQL expression. */
export function storeResponseStatement(db: Database, claim: IdempotencyClaim, status: number, response: SQL) {
  return db
    .update(idempotencyKeys)
    .set({ status, response })
    .where(keyMatches(claim))
    .returning({ response: idempotencyKeys.response });
}

/**
 * The statement that gives a claim up (its request was refused or failed), so the key may be used again: only a
 * claim still in flight (no response stored) is deleted.
 */
export function releaseClaimStatement(db: Database, claim: IdempotencyClaim) {
  return db.delete(idempotencyKeys).where(and(keyMatches(claim), isNull(idempotencyKeys.status)));
}

export interface Replay {
  status: number;
  body: unknown;
}

/**
 * What to answer when a batch with a claim failed: a replay of the stored response, a 422 for another body, a 409
 * while the first request is in flight. Null when the failure was not about the key (the caller rethrows).
 */
export async function resolveClaimFailure(
  db: Database,
  claim: IdempotencyClaim,
  error: unknown,
): Promise<Replay | null> {
  if (databaseError(error)?.code === '55P03') throw inFlight();
  if (abortLabel(error) !== 'idempotent_replay') return null;
  const [[stored]] = await scoped(db, { organizationId: claim.organizationId }, [
    db
      .select({
        requestHash: idempotencyKeys.requestHash,
        status: idempotencyKeys.status,
        response: idempotencyKeys.response,
      })
      .from(idempotencyKeys)
      .where(keyMatches(claim))
      .limit(1),
  ]);
  // Gone meanwhile (expired and swept): the client may simply retry.
  if (!stored) throw inFlight();
  if (stored.requestHash !== claim.requestHash) {
    throw new ApiError('unprocessable', {
      detail: 'This Idempotency-Key was already used with another request body; use a new key for a new request.',
    });
  }
  if (stored.status === null) throw inFlight();
  return { status: stored.status, body: stored.response };
}

function inFlight(): ApiError {
  return new ApiError('conflict', {
    detail: 'A request with this Idempotency-Key is still being processed; retry after it completes.',
    headers: { 'retry-after': '1' },
  });
}
