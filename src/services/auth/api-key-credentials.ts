import type { Redis } from '@upstash/redis/cloudflare';
import { and, eq, sql } from 'drizzle-orm';
import { z } from '@hono/zod-openapi';
import type { Database } from '../../db/client.ts';
import { apiKeys, type ApiKey } from '../../db/schema/api-keys.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { base64urlEncode, messageMac } from '../../lib/crypto.ts';
import { isPermission } from './permissions.ts';
import { hashToken, type ApiKeyEnvironment, type Principal } from './tokens.ts';

/**
 * API keys: `evk_<live|test>_<id>_<secret>`. The id is the key's row id (32 hex digits), the secret 24 random bytes
 * followed by a checksum: the first 8 bytes of HMAC-SHA-256 over everything before it, under a key derived from
 * DATA_ENCRYPTION_KEY. The checksum is verified in the isolate, with no I/O, so a made-up key is refused like a forged
 * token before it costs a Redis or database round trip or touches any rate-limit bucket (it is not what makes a key
 * valid: that is the stored hash). Rotating DATA_ENCRYPTION_KEY therefore invalidates every API key (as it makes the
 * stored payment and webhook secrets unreadable).
 *
 * The request path verifies a key against its Redis record `apikey:<id>`, read in the admission's one Redis round
 * trip: written at creation, replaced by a tombstone at revocation (effective at once), refilled from the database
 * (`api_keys`, the durable copy) on a miss. The record holds the SHA-256 of the whole key, compared in constant time.
 */
const KEY_PATTERN = /^evk_(live|test)_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const RANDOM_BYTES = 24;
const CHECKSUM_BYTES = 8;
/** The random part of the secret as base64url (24 bytes: 32 characters, no padding). */
const RANDOM_CHARACTERS = 32;
const encoder = new TextEncoder();

/** How long a revocation tombstone stays in Redis; after it, a miss reads the revoked row and writes it again. */
export const TOMBSTONE_TTL_SECONDS = 30 * 24 * 60 * 60;

async function checksum(secret: string, body: string): Promise<Uint8Array> {
  return (await messageMac(secret, 'api-key checksum', body)).subarray(0, CHECKSUM_BYTES);
}

/** A key's id as stored (a UUID) from its 32 hex digits, and back. */
function uuidOf(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface NewApiKey {
  id: string;
  /** The whole key: shown once, never stored. */
  key: string;
  keyHash: string;
  lastFour: string;
}

/** A new key with its id, hash and last four characters. No I/O. */
export async function generateApiKey(encryptionKey: string, environment: ApiKeyEnvironment): Promise<NewApiKey> {
  const id = crypto.randomUUID();
  const body = `evk_${environment}_${id.replaceAll('-', '')}_${base64urlEncode(crypto.getRandomValues(new Uint8Array(RANDOM_BYTES)))}`;
  const key = body + base64urlEncode(await checksum(encryptionKey, body));
  return { id, key, keyHash: await hashToken(key), lastFour: key.slice(-4) };
}

export interface PresentedApiKey {
  id: string;
  environment: ApiKeyEnvironment;
  key: string;
}

function invalidKey(detail: string): ApiError {
  return new ApiError('unauthorized', {
    detail,
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${detail}"` },
  });
}

/**
 * The key's id and environment when its shape and checksum are right, else 401: in the isolate, no I/O. It is not
 * yet known to be valid (its record decides).
 */
export async function presentedApiKey(encryptionKey: string, key: string): Promise<PresentedApiKey> {
  const match = KEY_PATTERN.exec(key);
  if (!match) throw invalidKey('The API key is invalid.');
  const [, environment, hex, secret] = match as unknown as [string, ApiKeyEnvironment, string, string];
  const body = key.slice(0, key.length - secret.length + RANDOM_CHARACTERS);
  // The checksum is compared as its canonical text: 11 base64url characters carry 66 bits for its 64, and a decoder
  // ignores the last character's two spare bits, so comparing decoded bytes would let an altered final character
  // through to the Redis round trip (refused there by the key's hash, but no longer free).
  const expected = encoder.encode(base64urlEncode(await checksum(encryptionKey, body)));
  // KEY_PATTERN fixes the secret at 43 characters, so both sides are 11 bytes here.
  const given = encoder.encode(secret.slice(RANDOM_CHARACTERS));
  if (!crypto.subtle.timingSafeEqual(given, expected)) {
    throw invalidKey('The API key is invalid.');
  }
  return { id: uuidOf(hex), environment, key };
}

/** The Redis key of an API key's record. */
export function apiKeyRecordKey(id: string): string {
  return `apikey:${id}`;
}

const ActiveRecordSchema = z.object({
  organizationId: z.string(),
  userId: z.string(),
  environment: z.enum(['live', 'test']),
  permissions: z.array(z.string()),
  // SHA-256 as hex: the same length as the presented key's hash, for the constant-time comparison.
  keyHash: z.string().length(64),
  /** Milliseconds since the epoch, or null: never expires. */
  expiresAt: z.number().nullable(),
  createdAt: z.number(),
});
const TombstoneSchema = z.object({ revoked: z.literal(true) });
const RecordSchema = z.union([ActiveRecordSchema, TombstoneSchema]);

export type ApiKeyRecord = z.infer<typeof RecordSchema>;

/** The record of a stored key: a tombstone when it is revoked. */
export function recordOf(row: ApiKey): ApiKeyRecord {
  if (row.revokedAt !== null) return { revoked: true };
  return {
    organizationId: row.organizationId,
    userId: row.createdBy,
    environment: row.environment,
    permissions: row.permissions,
    keyHash: row.keyHash,
    expiresAt: row.expiresAt?.getTime() ?? null,
    createdAt: row.createdAt.getTime(),
  };
}

/** `SET` arguments of a record: a live record lives until the key expires (or for ever), a tombstone 30 days. */
function recordExpiry(record: ApiKeyRecord, now: number): { ex: number } | { px: number } | undefined {
  if ('revoked' in record) return { ex: TOMBSTONE_TTL_SECONDS };
  // An expired key's record may go at once; the check refuses it either way.
  return record.expiresAt === null ? undefined : { px: Math.max(1, record.expiresAt - now) };
}

/**
 * Writes the record (creation: unconditionally; a refill after a miss: only if no record appeared meanwhile, so a
 * refill that read the row before a revocation committed cannot overwrite the revocation's tombstone). One round trip.
 */
export async function storeApiKeyRecord(
  redis: Pick<Redis, 'set'>,
  id: string,
  record: ApiKeyRecord,
  options: { onlyIfAbsent?: boolean } = {},
  now = Date.now(),
): Promise<void> {
  const expiry = recordExpiry(record, now);
  const value = JSON.stringify(record);
  const key = apiKeyRecordKey(id);
  if (options.onlyIfAbsent) await redis.set(key, value, { ...expiry, nx: true });
  else await redis.set(key, value, expiry);
}

/** Parses a record as Redis returned it (the client may already have parsed the JSON); null when absent. */
export function parseApiKeyRecord(value: unknown): ApiKeyRecord | null {
  if (value === null || value === undefined) return null;
  let data: unknown = value;
  if (typeof value === 'string') {
    try {
      data = JSON.parse(value);
    } catch {
      return null;
    }
  }
  const parsed = RecordSchema.safeParse(data);
  return parsed.success ? parsed.data : null;
}

/**
 * The key's row from the database, in the host's organization (row-level security too: another organization's key
 * is not found): the miss path, one database round trip.
 */
export async function loadApiKeyRecord(db: Database, organizationId: string, id: string): Promise<ApiKeyRecord | null> {
  const [[row]] = await scoped(db, { organizationId }, [
    db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.organizationId, organizationId), eq(apiKeys.id, id)))
      .limit(1),
  ]);
  return row ? recordOf(row) : null;
}

/**
 * The principal of a presented key, from its record, or 401: no record (unknown or revoked long ago), a tombstone
 * (revoked), another organization's key (like a token of another tenant), a wrong secret (hash compared in constant
 * time), or past its expiry. The key acts for its creator (`userId`, for ownership and the audit trail) with the
 * key's own permissions and the role `api_key` (never an owner's powers).
 */
export async function apiKeyPrincipal(
  presented: PresentedApiKey,
  record: ApiKeyRecord | null,
  organizationId: string,
  now = Date.now(),
): Promise<Principal> {
  if (record === null || 'revoked' in record) throw invalidKey('The API key is invalid or has been revoked.');
  const hash = encoder.encode(await hashToken(presented.key));
  const stored = encoder.encode(record.keyHash);
  if (record.organizationId !== organizationId || !crypto.subtle.timingSafeEqual(hash, stored)) {
    throw invalidKey('The API key is invalid or has been revoked.');
  }
  if (record.expiresAt !== null && record.expiresAt <= now) throw invalidKey('The API key has expired.');
  return {
    userId: record.userId,
    tenant: record.organizationId,
    sessionId: presented.id,
    role: 'api_key',
    permissions: new Set(record.permissions.filter(isPermission)),
    emailVerified: true,
    issuedAtMs: record.createdAt,
    authTime: Math.floor(record.createdAt / 1000),
    amr: [],
    credential: 'api_key',
    apiKey: { id: presented.id, environment: presented.environment, expiresAt: record.expiresAt },
  };
}

/** How often a key's last use is written, at most (per isolate, and again in the UPDATE's condition). */
export const LAST_USE_INTERVAL_MS = 60_000;
// When each key's last use was last written from this isolate: lives as long as the isolate.
const lastWritten = new Map<string, number>();
const MAX_TRACKED_KEYS = 10_000;

/**
 * The write of a key's last use (time and client address), or null when this isolate wrote it less than a minute
 * ago. Run it after the response (waitUntil): one database round trip, off the request path. The UPDATE itself
 * skips a row written within the minute by another isolate.
 */
export function lastUseWrite(
  db: Database,
  principal: Principal,
  ip: string | null,
  now = Date.now(),
): (() => Promise<unknown>) | null {
  const id = principal.apiKey?.id;
  if (id === undefined) return null;
  const previous = lastWritten.get(id);
  if (previous !== undefined && now - previous < LAST_USE_INTERVAL_MS) return null;
  if (lastWritten.size >= MAX_TRACKED_KEYS) lastWritten.clear();
  lastWritten.set(id, now);
  const organizationId = principal.tenant;
  return () =>
    scoped(db, { organizationId }, [
      db
        .update(apiKeys)
        .set({ lastUsedAt: new Date(now), lastUsedIp: ip })
        .where(
          and(
            eq(apiKeys.organizationId, organizationId),
            eq(apiKeys.id, id),
            sql`(${apiKeys.lastUsedAt} is null or ${apiKeys.lastUsedAt} < ${new Date(now - LAST_USE_INTERVAL_MS)})`,
          ),
        ),
    ]);
}
