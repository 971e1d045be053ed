import { sql, type SQL } from 'drizzle-orm';
import type { BatchItem, BatchResponse } from 'drizzle-orm/batch';
import type { Database } from './client.ts';

/**
 * Row-level security context. Each batch (one transaction, one round trip) starts with `set_config(..., true)`,
 * which lasts only for that transaction, so the setting can never leak into another request's queries.
 * See drizzle/sql/security.sql for the policies that read these settings.
 */
export type Scope =
  | { organizationId: string }
  | { resolveSlug: string }
  | { resolveHost: string }
  | { organizationId: string; lookupEmail: string }
  | { platform: true };

function scopeStatement(scope: Scope): SQL {
  if ('platform' in scope) return sql`select set_config('app.platform', 'on', true)`;
  if ('resolveSlug' in scope) return sql`select set_config('app.resolve_slug', ${scope.resolveSlug}, true)`;
  if ('resolveHost' in scope) return sql`select set_config('app.resolve_host', ${scope.resolveHost}, true)`;
  if ('lookupEmail' in scope) {
    return sql`select set_config('app.organization_id', ${scope.organizationId}, true), set_config('app.lookup_email', ${scope.lookupEmail}, true)`;
  }
  return sql`select set_config('app.organization_id', ${scope.organizationId}, true)`;
}

/** What `scoped` (and a batch) takes: one statement or more. */
export type Queries = readonly [BatchItem<'pg'>, ...BatchItem<'pg'>[]];

/**
 * Runs queries inside one batch (one transaction, one round trip) whose first statement sets the row-level security
 * scope. This is the only way the Worker reaches tenant data: every tenant query also states its tenant predicate,
 * and RLS makes a forgotten predicate return nothing of another tenant. On a request served from a tenant resolution
 * past its freshness, the request's client adds the resolution's check right after the scope statement (and takes
 * its answer out again): src/services/tenants/check.ts.
 *
 * @example
 * const [members] = await scoped(db, { organizationId }, [db.select().from(memberships).where(...)]);
 */
export async function scoped<T extends Queries>(db: Database, scope: Scope, queries: T): Promise<BatchResponse<T>> {
  const responses: unknown[] = await db.batch([db.execute(scopeStatement(scope)), ...queries]);
  return responses.slice(1) as BatchResponse<T>;
}
