import { and, eq, gt, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { apiKeys, type ApiKey } from '../../db/schema/api-keys.ts';
import { memberships } from '../../db/schema/memberships.ts';
import { organizations } from '../../db/schema/organizations.ts';
import { roles } from '../../db/schema/roles.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import { abortLabel, GUARD_LABEL_PREFIX, mustChange, nothingChanged } from '../events/shared.ts';
import { callerOf } from '../roles/authority.ts';
import {
  apiKeyRecordKey,
  generateApiKey,
  recordOf,
  storeApiKeyRecord,
  TOMBSTONE_TTL_SECONDS,
} from './api-key-credentials.ts';
import type { Permission } from './permissions.ts';
import type { ApiKeyEnvironment } from './tokens.ts';

/**
 * How many keys an organization may hold that are neither revoked nor expired. Each key has its own rate-limit
 * bucket (src/middleware/plan-limits.ts), so this also bounds what keys can send together.
 */
export const MAX_ACTIVE_API_KEYS = 50;
const KEY_LIMIT_LABEL = 'api_key_limit';

export type ApiKeyStatus = 'active' | 'expired' | 'revoked';

/** A key as listed: never its secret or hash; its prefix (`evk_live_<id>`) and last four characters. */
export interface ApiKeyView {
  id: string;
  name: string;
  environment: ApiKeyEnvironment;
  prefix: string;
  lastFour: string;
  permissions: Permission[];
  status: ApiKeyStatus;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  revokedAt: string | null;
}

export interface NewApiKeyView extends ApiKeyView {
  /** The key itself: shown in this answer only. */
  key: string;
}

function statusOf(row: ApiKey, now: number): ApiKeyStatus {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt !== null && row.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

export function toApiKeyView(row: ApiKey, now = Date.now()): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    environment: row.environment,
    prefix: `evk_${row.environment}_${row.id.replaceAll('-', '')}`,
    lastFour: row.lastFour,
    permissions: row.permissions as Permission[],
    status: statusOf(row, now),
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    lastUsedIp: row.lastUsedIp,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

function apiKeyNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No API key with this id.' });
}

export interface CreateApiKeyInput {
  name: string;
  environment: ApiKeyEnvironment;
  permissions: Permission[];
  expiresAt?: string | undefined;
}

/**
 * Refuses a key the caller may not create: permissions beyond the caller's own (403, naming them: a key cannot mint
 * a stronger key, nor a member a key stronger than themselves), a live key made with a test key (403
 * `live_key_required`), or, from a key, a key that would outlive it (400).
 */
function assertMayCreate(ctx: ServiceContext, input: CreateApiKeyInput, expiresAt: Date | null): void {
  const caller = callerOf(ctx);
  const missing = input.permissions.filter((permission) => !caller.permissions.has(permission));
  if (missing.length > 0) {
    throw new ApiError('forbidden', {
      detail: `An API key holds a subset of its creator's permissions; you do not hold ${missing.join(', ')}.`,
    });
  }
  const creatorKey = caller.apiKey;
  if (creatorKey === undefined) return;
  if (creatorKey.environment === 'test' && input.environment === 'live') {
    throw new ApiError('live_key_required', { detail: 'A test API key can create test keys only.' });
  }
  if (creatorKey.expiresAt !== null && (expiresAt === null || expiresAt.getTime() > creatorKey.expiresAt)) {
    throw new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: [
        {
          pointer: '/body/expiresAt',
          message: `A key created with an expiring key must expire by ${new Date(creatorKey.expiresAt).toISOString()}.`,
        },
      ],
    });
  }
}

/**
 * Creates a key: the row (hash only) and its `api_key.created` audit row in one database round trip, refused with
 * 409 when the organization already holds MAX_ACTIVE_API_KEYS active keys (counted under a lock of the
 * organization's row, so concurrent creations queue up); then the Redis record (one Redis round trip; if that write
 * fails the key still works, through the miss path). The key is in this answer only.
 */
export async function createApiKey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateApiKeyInput;
}): Promise<NewApiKeyView> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
  if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
    throw new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: [{ pointer: '/body/expiresAt', message: 'Must be in the future.' }],
    });
  }
  assertMayCreate(ctx, input, expiresAt);
  const permissions = [...new Set(input.permissions)];
  const created = await generateApiKey(ctx.bindings.DATA_ENCRYPTION_KEY, input.environment);
  const db = ctx.services.db;
  const active = sql`(select count(*) from ${apiKeys} where ${apiKeys.organizationId} = ${tenant.id} and ${apiKeys.revokedAt} is null and (${apiKeys.expiresAt} is null or ${apiKeys.expiresAt} > now()))`;
  let rows: ApiKey[];
  try {
    [, , rows] = await scoped(db, { organizationId: tenant.id }, [
      db.execute(sql`select 1 as key_lock from ${organizations} where id = ${tenant.id} for no key update`),
      db.execute(
        sql`select (case when ${active} < ${MAX_ACTIVE_API_KEYS} then '0' else ${GUARD_LABEL_PREFIX + KEY_LIMIT_LABEL} end)::int as guard`,
      ),
      db
        .insert(apiKeys)
        .values({
          id: created.id,
          organizationId: tenant.id,
          name: input.name,
          environment: input.environment,
          permissions,
          keyHash: created.keyHash,
          lastFour: created.lastFour,
          createdBy: caller.userId,
          expiresAt,
        })
        .returning(),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(caller),
        action: 'api_key.created',
        target: { type: 'api_key', id: created.id },
        metadata: {
          name: input.name,
          environment: input.environment,
          permissions,
          expiresAt: expiresAt?.toISOString() ?? null,
        },
      }),
    ]);
  } catch (error) {
    if (abortLabel(error) === KEY_LIMIT_LABEL) {
      throw new ApiError('conflict', {
        detail: `The organization already has ${MAX_ACTIVE_API_KEYS} active API keys; revoke one first.`,
      });
    }
    throw error;
  }
  // The insert returns its row (the guard above aborts the batch otherwise).
  const row = rows[0] as ApiKey;
  try {
    await storeApiKeyRecord(ctx.services.redis, row.id, recordOf(row));
  } catch (error) {
    ctx.logger.warn('API key record write failed; the key is verified from the database until it is refilled', {
      error,
    });
  }
  return { ...toApiKeyView(row), key: created.key };
}

export type ApiKeySort = 'createdAt' | '-createdAt';
const DEFAULT_SORT: ApiKeySort = '-createdAt';

export interface ListApiKeysInput {
  limit: number;
  cursor?: string | undefined;
  sort?: ApiKeySort | undefined;
  /** Only keys in this state. */
  status?: ApiKeyStatus | undefined;
}

function statusCondition(status: ApiKeyStatus): SQL {
  if (status === 'revoked') return sql`${apiKeys.revokedAt} is not null`;
  const unexpired = or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)) as SQL;
  return status === 'active'
    ? (and(isNull(apiKeys.revokedAt), unexpired) as SQL)
    : sql`${apiKeys.revokedAt} is null and ${apiKeys.expiresAt} <= now()`;
}

/** The organization's keys, newest first by default, with cursor pagination. One database round trip. */
export async function listApiKeys({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListApiKeysInput;
}): Promise<{ data: ApiKeyView[]; nextCursor: string | null }> {
  const tenant = requireTenant(ctx);
  const sort = listSort(input.sort ?? DEFAULT_SORT);
  const conditions: SQL[] = [eq(apiKeys.organizationId, tenant.id)];
  if (input.cursor !== undefined) {
    const after = decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_SORT });
    conditions.push(keysetAfter(apiKeys.createdAt, apiKeys.id, after, sort));
  }
  if (input.status !== undefined) conditions.push(statusCondition(input.status));
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ key: apiKeys, cursorAt: cursorTimestamp(apiKeys.createdAt) })
      .from(apiKeys)
      .where(and(...conditions))
      .orderBy(...keysetOrder(apiKeys.createdAt, apiKeys.id, sort))
      .limit(input.limit + 1),
  ]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  const now = Date.now();
  return {
    data: page.map((row) => toApiKeyView(row.key, now)),
    nextCursor:
      rows.length > input.limit && last !== undefined
        ? encodeCursor({ at: last.cursorAt, id: last.key.id }, sort)
        : null,
  };
}

function selectApiKey(ctx: ServiceContext, organizationId: string, id: string) {
  const db = ctx.services.db;
  return db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.organizationId, organizationId), eq(apiKeys.id, id)))
    .limit(1);
}

/** One key (another organization's answers 404 like a missing one). One database round trip. */
export async function getApiKey({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<ApiKeyView> {
  const tenant = requireTenant(ctx);
  const [[row]] = await scoped(ctx.services.db, { organizationId: tenant.id }, [
    selectApiKey(ctx, tenant.id, input.id.toLowerCase()),
  ]);
  if (!row) throw apiKeyNotFound();
  return toApiKeyView(row);
}

/**
 * Renames a key (the only change a key allows: its permissions, environment and expiry are fixed at creation, so a
 * stored record never needs rewriting). One database round trip, with its `api_key.updated` audit row.
 */
export async function renameApiKey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; name: string };
}): Promise<ApiKeyView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const where = and(eq(apiKeys.organizationId, tenant.id), eq(apiKeys.id, id));
  try {
    const [, , [row]] = await scoped(db, { organizationId: tenant.id }, [
      mustChange(db, db.update(apiKeys).set({ name: input.name, updatedAt: new Date() }).where(where).returning()),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(callerOf(ctx)),
        action: 'api_key.updated',
        target: { type: 'api_key', id },
        metadata: { name: input.name },
      }),
      selectApiKey(ctx, tenant.id, id),
    ]);
    return toApiKeyView(row as ApiKey);
  } catch (error) {
    if (nothingChanged(error)) throw apiKeyNotFound();
    throw error;
  }
}

/**
 * Revokes a key, effective at once: the row's `revoked_at` with its `api_key.revoked` audit row (one database round
 * trip), then the Redis record is replaced by a tombstone (one Redis round trip), which the next request with the
 * key reads in its admission. If that write fails the answer is 503 and the key may still work: repeat the DELETE
 * (revoking a revoked key writes the tombstone again and answers 204).
 */
export async function revokeApiKey({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  try {
    await scoped(db, { organizationId: tenant.id }, [
      mustChange(
        db,
        db
          .update(apiKeys)
          .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())`, updatedAt: new Date() })
          .where(and(eq(apiKeys.organizationId, tenant.id), eq(apiKeys.id, id)))
          .returning({ id: apiKeys.id }),
      ),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(callerOf(ctx)),
        action: 'api_key.revoked',
        target: { type: 'api_key', id },
      }),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw apiKeyNotFound();
    throw error;
  }
  try {
    await storeApiKeyRecord(ctx.services.redis, id, { revoked: true });
  } catch (error) {
    ctx.logger.error('API key tombstone write failed', { error });
    throw new ApiError('service_unavailable', {
      detail: 'The key is revoked in the database, but not yet everywhere: repeat the request.',
      headers: { 'retry-after': '5' },
    });
  }
}

/**
 * Revokes the keys of these members that outgrew their creator: a key survives only while its creator is an active
 * member whose role still holds every permission of the key. Called with the sessions' end after a membership
 * change (removal, disabling, a new role) or a role's change (src/services/users/sessions.ts). One database round
 * trip, and one Redis round trip for the tombstones when keys were revoked.
 */
export async function revokeOutgrownApiKeys(
  ctx: Pick<ServiceContext, 'services'>,
  organizationId: string,
  userIds: readonly string[],
): Promise<string[]> {
  const db = ctx.services.db;
  const [revoked] = await scoped(db, { organizationId }, [
    db
      .update(apiKeys)
      .set({ revokedAt: sql`now()`, updatedAt: sql`now()` })
      .where(
        and(
          eq(apiKeys.organizationId, organizationId),
          inArray(apiKeys.createdBy, [...userIds]),
          isNull(apiKeys.revokedAt),
          sql`not exists (
            select 1 from ${memberships} m join ${roles} r on r.organization_id = m.organization_id and r.id = m.role_id
             where m.organization_id = ${apiKeys.organizationId} and m.user_id = ${apiKeys.createdBy}
               and m.status = 'active' and ${apiKeys.permissions} <@ r.permissions)`,
        ),
      )
      .returning({ id: apiKeys.id }),
  ]);
  if (revoked.length === 0) return [];
  const pipeline = ctx.services.redis.pipeline();
  for (const { id } of revoked) {
    pipeline.set(apiKeyRecordKey(id), JSON.stringify({ revoked: true }), { ex: TOMBSTONE_TTL_SECONDS });
  }
  await pipeline.exec();
  return revoked.map(({ id }) => id);
}
