import { and, eq, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import type { BatchItem, BatchResponse } from 'drizzle-orm/batch';
import { SHARED_DATABASE, type Database } from '../../db/client.ts';
import type { Queries } from '../../db/tenant.ts';
// The tables, not the schema's index: the tenant middleware loads this module in every isolate at start-up.
import { organizationDomains } from '../../db/schema/organization-domains.ts';
import { organizations } from '../../db/schema/organizations.ts';
import { tenantDirectory } from '../../db/schema/tenant-directory.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { Services } from '../../lib/services.ts';
import { FLAG_DEFINITIONS, FLAG_REVISION } from '../flags/cache.ts';
import { failedGuard, guard } from '../users/guards.ts';
import { TENANT_COLUMNS, TENANT_REVISION } from './columns.ts';

/**
 * What a request served from a tenant resolution past its freshness (src/services/tenants/resolve.ts) has the
 * database confirm: the host still names this organization and it may still be served here (active, no deletion
 * scheduled, on the shared database, not being moved). `revision` (TENANT_REVISION) and `flagsRevision` (of the
 * feature flag definitions the isolate used; null when they are fresh enough to use as they are): the same round
 * trip reads the organization, and the definitions, again when they changed since.
 */
export interface TenantCheck {
  /** The resolution's cache key (`slug:<slug>` or `host:<hostname>`). */
  key: string;
  host: { slug: string } | { hostname: string };
  organizationId: string;
  revision: string;
  flagsRevision: string | null;
}

/**
 * The check as a statement of the request's first batch (after its row-level security scope, which makes the
 * organization's own rows visible): it aborts the transaction (guard `tenant_changed`) unless the organization is
 * still the one on this host and may be served from this database: active, no deletion scheduled, on the shared
 * database and not being moved. Everything the request wrote in that batch is rolled back with it. A change of
 * anything else (plan, overrides, settings, name) does not refuse the request: `refreshStatement` reads it for the
 * next one, as the tenant cache let an isolate use it for up to 30 s before hints existed.
 */
function checkStatement(db: Database, check: TenantCheck): BatchItem<'pg'> {
  const host: SQL =
    'slug' in check.host
      ? sql`${organizations.slug} = ${check.host.slug}`
      : sql`exists ${db
          .select({ one: sql`1` })
          .from(organizationDomains)
          .where(
            and(
              eq(organizationDomains.organizationId, organizations.id),
              eq(organizationDomains.hostname, check.host.hostname),
              isNotNull(organizationDomains.verifiedAt),
            ),
          )}`;
  const unchanged = db
    .select({ one: sql`1` })
    .from(organizations)
    .leftJoin(tenantDirectory, eq(tenantDirectory.organizationId, organizations.id))
    .where(
      and(
        eq(organizations.id, check.organizationId),
        host,
        eq(organizations.status, 'active'),
        isNull(organizations.deleteAfter),
        sql`coalesce(${tenantDirectory.database}, ${SHARED_DATABASE}) = ${SHARED_DATABASE}`,
        isNull(tenantDirectory.readOnlySince),
      ),
    );
  return guard(db, sql`exists ${unchanged}`, 'tenant_changed');
}

/** The organization as tenant resolution reads it, only when it changed since `revision` (else no row). */
function refreshStatement(db: Database, check: TenantCheck) {
  return db
    .select(TENANT_COLUMNS)
    .from(organizations)
    .leftJoin(tenantDirectory, eq(tenantDirectory.organizationId, organizations.id))
    .where(and(eq(organizations.id, check.organizationId), sql`${TENANT_REVISION} <> ${check.revision}`))
    .limit(1);
}

/** The organization read again by a check because it changed (the lookup's columns: TENANT_COLUMNS). */
export type ChangedTenant = Awaited<ReturnType<typeof refreshStatement>>[number];

/**
 * The flag definitions again, only when they changed since `revision` (flags are platform-wide and were up to
 * FLAG_CACHE_TTL_MS stale before hints existed: a request served on the previous definitions is not refused, the
 * next one uses the new ones).
 */
function flagsStatement(db: Database, revision: string): BatchItem<'pg'> {
  return db.execute(sql`select case when ${FLAG_REVISION} = ${revision} then null else ${FLAG_DEFINITIONS} end as flags,
    ${FLAG_REVISION} as revision`);
}

/** Flag definitions the check read because they changed (`definitions` as `FLAG_DEFINITIONS` returns them). */
export interface ChangedFlags {
  definitions: unknown;
  revision: string;
}

export interface CheckOutcome {
  /**
   * The check passed: the resolution is fresh again; `tenant` and `flags` when the organization or the definitions
   * it used had changed (the request was served on the previous ones).
   */
  confirmed(changes: { tenant: ChangedTenant | null; flags: ChangedFlags | null }): void;
  /** The organization may no longer be served on this resolution: forget it. */
  changed(): Promise<void>;
}

function changedFlags(response: unknown): ChangedFlags | null {
  const row = (response as { rows?: { flags?: unknown; revision?: unknown }[] } | undefined)?.rows?.[0];
  if (row === undefined || row.flags === null || row.flags === undefined || typeof row.revision !== 'string') {
    return null;
  }
  return { definitions: row.flags, revision: row.revision };
}

/**
 * `services` whose database client adds the tenant check to the request's first batch, which `scoped` (the only
 * way to tenant data) makes start with its row-level security scope: the check (and the re-reads) go right after
 * it, and their answers are taken out again, so callers see their own results. Until a batch carrying it succeeds,
 * every batch carries it (two batches sent at once both do). When it fails the request answers 503 with
 * Retry-After: 1 and nothing of that batch is written; the next request reads the tenant afresh (404 for a
 * suspended organization, say).
 */
export function checkedServices(services: Services, check: TenantCheck, outcome: CheckOutcome): Services {
  let checked: Database | undefined;
  const result: Services = {
    get db() {
      checked ??= checkedDatabase(services.db, check, {
        pending: () => unconfirmed.has(result),
        confirmed: (changes) => {
          // The first batch to pass confirms; another one sent beside it passed the same check.
          if (!unconfirmed.delete(result)) return;
          outcome.confirmed(changes);
        },
        changed: () => outcome.changed(),
      });
      return checked;
    },
    get redis() {
      return services.redis;
    },
  };
  unconfirmed.add(result);
  return result;
}

// The services built on a tenant resolution whose check has not passed yet.
const unconfirmed = new WeakSet<Services>();

/**
 * Whether `services` were built on a tenant resolution whose check has not passed yet: a read that could be answered
 * from a cache (the public catalogue's edge cache) goes to the database instead, so the check rides along and a
 * suspended or changed organization is not served from the cache on an unconfirmed resolution.
 */
export function tenantCheckPending(services: Services): boolean {
  return unconfirmed.has(services);
}

function checkedDatabase(db: Database, check: TenantCheck, outcome: CheckOutcome & { pending(): boolean }): Database {
  const batch = async <T extends Queries>(queries: T): Promise<BatchResponse<T>> => {
    if (!outcome.pending()) return db.batch(queries);
    const [scope, ...rest] = queries;
    const added =
      check.flagsRevision === null
        ? [checkStatement(db, check), refreshStatement(db, check)]
        : [checkStatement(db, check), refreshStatement(db, check), flagsStatement(db, check.flagsRevision)];
    let responses: unknown[];
    try {
      responses = await db.batch([scope, ...added, ...rest]);
    } catch (error) {
      if (failedGuard(error) !== 'tenant_changed') throw error;
      await outcome.changed();
      throw new ApiError('service_unavailable', {
        detail: 'This organization changed while the request was served; nothing was written. Retry the request.',
        headers: { 'Retry-After': '1' },
        cause: error,
      });
    }
    outcome.confirmed({
      tenant: (responses[2] as ChangedTenant[] | undefined)?.[0] ?? null,
      flags: check.flagsRevision === null ? null : changedFlags(responses[3]),
    });
    return [responses[0], ...responses.slice(1 + added.length)] as BatchResponse<T>;
  };
  // Only `batch` differs; every other member is the client's own, bound to it (drizzle's methods use `this`).
  return new Proxy(db, {
    get(target, property) {
      if (property === 'batch') return batch;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? ((value as (...args: unknown[]) => unknown).bind(target) as unknown) : value;
    },
  });
}
