import type { Redis } from '@upstash/redis/cloudflare';
import { and, asc, eq, lte, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { SHARED_DATABASE, type Database, type DatabaseKey } from '../../db/client.ts';
import { organizationDomains, organizations, tenantDirectory, type Organization } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ClientInfo } from '../../lib/client.ts';
import type { ServiceContext } from '../../lib/context.ts';
import type { Logger } from '../../lib/logger.ts';
import { auditInsert, auditMetadata } from '../audit/record.ts';
import { activeOwnersQuery, brandingQuery, emailBranding, sendLater } from '../email/branding.ts';
import { deletionCancelledEmail, deletionScheduledEmail } from '../email/organizations.ts';
import { abortLabel, mustChange } from '../events/shared.ts';
import { COUNTED_METRICS, USAGE_KEY_TTL_SECONDS, usageKey, utcDay } from '../plans/usage.ts';
import { catalogueKeys } from '../catalogue/edge-cache.ts';
import { forgetHosts } from '../tenants/resolve.ts';

/**
 * Deleting an organization (issue #16 part 1), on the platform host: a platform administrator schedules the deletion
 * with a grace period, during which the organization is not served (its hosts answer 404
 * `organization_deletion_scheduled`, src/middleware/tenant.ts) and the deletion can be cancelled; once the grace has
 * passed, the scheduled handler purges it (`purgeDueOrganizations`). The schedule never touches `status`, so a
 * cancellation leaves the organization as it was (active, or suspended if it was).
 */

/** The grace period in days: the default, and the bounds a platform administrator may choose within. */
export const DELETION_GRACE_DAYS = { default: 30, min: 1, max: 90 } as const;
/** Organizations purged by one run of the scheduled handler (each is its own transaction). */
export const PURGE_BATCH_SIZE = 5;
/** R2 keys listed and deleted at once (R2's own bound for both), and the pages one organization's purge goes through. */
const R2_PAGE_SIZE = 1000;
const R2_MAX_PAGES = 50;
/** Where the organization's files are in R2 (src/services/files/service.ts, src/services/invoices/service.ts). */
const filePrefixes = (organizationId: string) => [`images/${organizationId}/`, `invoices/${organizationId}/`];

export interface DeletionSchedule {
  organizationId: string;
  scheduledAt: string;
  deleteAfter: string;
}

function notFound(): ApiError {
  return new ApiError('not_found', { detail: 'No such organization.' });
}

function hostsOf(slug: string, domains: readonly { hostname: string }[]) {
  return [{ slug }, ...domains.map(({ hostname }) => ({ hostname }))];
}

const domainsQuery = (db: Database, id: string) =>
  db
    .select({ hostname: organizationDomains.hostname })
    .from(organizationDomains)
    .where(eq(organizationDomains.organizationId, id));

/** The current schedule of an organization, for the problem that explains why a change was refused. */
async function currentSchedule(ctx: ServiceContext, id: string): Promise<Pick<Organization, 'deleteAfter'>> {
  const db = ctx.services.db;
  const [rows] = await scoped(db, { platform: true }, [
    db.select({ deleteAfter: organizations.deleteAfter }).from(organizations).where(eq(organizations.id, id)),
  ]);
  const row = rows[0];
  if (!row) throw notFound();
  return row;
}

interface ScheduleChange {
  /** The conditional update of the schedule (`update ... returning id`): it matches nothing when refused. */
  write: SQL;
  /** `deletion_scheduled` or `deletion_cancelled`: the audit actions are `platform.organization_<verb>` and `organization.<verb>`. */
  verb: 'deletion_scheduled' | 'deletion_cancelled';
  metadata: Record<string, unknown>;
  /** The 409's detail when `write` matched nothing, from the schedule as it is. */
  refusal: (deleteAfter: Date | null) => string;
}

/**
 * Schedules or cancels, in one database round trip: the conditional update, the organization row as it is then, its
 * hosts, what its owners' notices need, an audit row in the platform log and one in the organization's, both with
 * the reason. When the update matched nothing, a read tells 404 from 409. Then the hosts are forgotten by this
 * location's tenant cache.
 */
async function changeSchedule(ctx: ServiceContext, id: string, change: ScheduleChange) {
  const db = ctx.services.db;
  const actor = { type: 'platform_admin', userId: ctx.principal?.userId ?? null } as const;
  const target = { type: 'organization', id };
  let results;
  try {
    results = await scoped(db, { platform: true }, [
      mustChange(db, change.write, 'schedule_unchanged'),
      db.select().from(organizations).where(eq(organizations.id, id)),
      domainsQuery(db, id),
      brandingQuery(db, id),
      activeOwnersQuery(db, id),
      auditInsert(db, ctx.client, {
        organizationId: null,
        actor,
        action: `platform.organization_${change.verb}`,
        target,
        metadata: change.metadata,
      }),
      auditInsert(db, ctx.client, {
        organizationId: id,
        actor,
        action: `organization.${change.verb}`,
        target,
        metadata: change.metadata,
      }),
    ]);
  } catch (error) {
    if (abortLabel(error) !== 'schedule_unchanged') throw error;
    const { deleteAfter } = await currentSchedule(ctx, id);
    throw new ApiError('conflict', { detail: change.refusal(deleteAfter) });
  }
  const [, rows, domains, brandingRows, owners] = results;
  const row = rows[0];
  if (!row) throw notFound();
  await forgetHosts(ctx.bindings.ROOT_DOMAIN, hostsOf(row.slug, domains));
  return { row, owners, branding: emailBranding(brandingRows[0]) };
}

/**
 * Schedules the deletion of an organization `graceDays` from now (only when none is scheduled: 409 otherwise, 404 for
 * an unknown id), with `platform.organization_deletion_scheduled` and `organization.deletion_scheduled` audit rows,
 * in one database round trip (`changeSchedule`); each active owner is sent a notice through the email queue.
 */
export async function scheduleOrganizationDeletion({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason: string; graceDays: number };
}): Promise<DeletionSchedule> {
  const id = input.id.toLowerCase();
  const { row, owners, branding } = await changeSchedule(ctx, id, {
    write: sql`(update ${organizations} set deletion_scheduled_at = now(),
      delete_after = now() + make_interval(days => ${input.graceDays}::int), updated_at = now()
      where id = ${id} and delete_after is null returning id)`,
    verb: 'deletion_scheduled',
    metadata: { reason: input.reason, graceDays: input.graceDays },
    refusal: (deleteAfter) =>
      `The deletion of this organization is already scheduled (after ${deleteAfter?.toISOString() ?? '?'}); ` +
      'cancel it first to change it.',
  });
  const { deletionScheduledAt: scheduledAt, deleteAfter } = row;
  if (!scheduledAt || !deleteAfter) throw new Error('the scheduled deletion was not read back');
  for (const owner of owners) {
    const message = deletionScheduledEmail({
      id: `organization-deletion-scheduled:${id}:${String(scheduledAt.getTime())}:${owner.userId}`,
      to: owner.email,
      slug: row.slug,
      deleteAfter,
      branding,
    });
    sendLater(ctx, message, id);
  }
  return { organizationId: id, scheduledAt: scheduledAt.toISOString(), deleteAfter: deleteAfter.toISOString() };
}

/**
 * Cancels a scheduled deletion while its grace period lasts (409 when none is scheduled or its grace has passed: the
 * purge is due or under way; 404 for an unknown id), with `platform.organization_deletion_cancelled` and
 * `organization.deletion_cancelled` audit rows, in one database round trip (`changeSchedule`). The organization is
 * served again at once here (within 5 s elsewhere) with the status it had; each active owner is sent a notice.
 */
export async function cancelOrganizationDeletion({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason: string };
}): Promise<Organization> {
  const id = input.id.toLowerCase();
  const { row, owners, branding } = await changeSchedule(ctx, id, {
    write: sql`(update ${organizations} set deletion_scheduled_at = null, delete_after = null, updated_at = now()
      where id = ${id} and delete_after > now() returning id)`,
    verb: 'deletion_cancelled',
    metadata: { reason: input.reason },
    refusal: (deleteAfter) =>
      deleteAfter === null
        ? 'No deletion of this organization is scheduled.'
        : 'The grace period is over: the deletion of this organization is under way and cannot be cancelled.',
  });
  for (const owner of owners) {
    const message = deletionCancelledEmail({
      id: `organization-deletion-cancelled:${id}:${String(row.updatedAt.getTime())}:${owner.userId}`,
      to: owner.email,
      slug: row.slug,
      branding,
    });
    sendLater(ctx, message, id);
  }
  return row;
}

const SYSTEM_CLIENT: ClientInfo = {
  ip: null,
  addressKey: null,
  userAgent: 'eventra-scheduler',
  requestId: 'scheduled',
};

export interface PurgeDeps {
  /** The control database: the organizations, their schedules and the tenant directory. */
  db: Database;
  /** The client of a database the tenant directory names (`shared` is `db`). */
  databaseOf: (key: DatabaseKey) => Database;
  redis: Redis;
  bucket: R2Bucket;
  rootDomain: string;
  logger: Logger;
}

/**
 * The purge (the scheduled handler, every minute, on the control database): the organizations whose grace has passed, at most
 * PURGE_BATCH_SIZE per run, oldest due first, one after the other (`purgeOrganization`). A failure is logged and
 * the next organization still runs; the first failure is rethrown at the end. Safe to run again after a crash at any
 * point: each step is idempotent and the row goes last.
 */
export async function purgeDueOrganizations(deps: PurgeDeps): Promise<{ purged: number }> {
  const { db } = deps;
  const [due] = await scoped(db, { platform: true }, [
    db
      .select({ id: organizations.id, slug: organizations.slug })
      .from(organizations)
      .where(lte(organizations.deleteAfter, sql`now()`))
      .orderBy(asc(organizations.deleteAfter))
      .limit(PURGE_BATCH_SIZE),
  ]);
  let purged = 0;
  const failures: unknown[] = [];
  for (const organization of due) {
    try {
      if (await purgeOrganization(deps, organization)) purged += 1;
    } catch (error) {
      deps.logger.error('organization purge failed', { organizationId: organization.id, error });
      failures.push(error);
    }
  }
  if (purged > 0) deps.logger.info('organizations purged', { purged });
  if (failures.length > 0) throw failures[0];
  return { purged };
}

/**
 * Deletes one due organization completely, in an order that survives a crash anywhere (the next run starts again,
 * and every step before the last finds less to do):
 * 1. its files in R2 (`images/<id>/`, `invoices/<id>/`), listed and deleted a page at a time; when more pages are
 *    left than one run goes through, the rest waits for the next run and the row stays;
 * 2. its Redis keys that can be named (`deleteRedisKeys`);
 * 3. for an organization on a dedicated database (its tenant directory entry, read with its schedule from the control
 *    database; still due, which no cancellation can change any more: a cancellation needs the grace to last), one
 *    transaction on that database: what it holds counted, its bookings and its copy of the row deleted, which its
 *    tenant rows there follow by cascade (`purgeDedicatedCopy`). Deleting nothing the second time, so a run that died
 *    after it finds the rest to do;
 * 4. one transaction on the control database: the row locked and checked still due (a cancellation that committed
 *    first wins), a tombstone in the platform audit log (`platform.organization_deleted`: the id, slug, name,
 *    schedule, the database, and how much went, counted on the database that held it), its bookings, and the row's
 *    deletion, which every tenant table follows by its foreign key's cascade (the organization's own audit log
 *    included: drizzle/sql/security.sql lets the append-only log go only this way), the directory entry last of all;
 * 5. its hosts forgotten by the tenant cache of this location.
 * The users copied to a dedicated database stay there (global identities, as on the control database).
 * Returns whether the row was deleted.
 */
export async function purgeOrganization(deps: PurgeDeps, organization: { id: string; slug: string }) {
  const { db, logger } = deps;
  const { id } = organization;
  for (const prefix of filePrefixes(id)) {
    if (!(await deleteObjects(deps.bucket, prefix))) {
      logger.warn('organization purge: more files than one run deletes, continued next run', { organizationId: id });
      return false;
    }
  }
  await deleteRedisKeys(deps.redis, id);

  const [due] = await scoped(db, { platform: true }, [
    db
      .select({ database: sql<string>`coalesce(${tenantDirectory.database}, ${SHARED_DATABASE})` })
      .from(organizations)
      .leftJoin(tenantDirectory, eq(tenantDirectory.organizationId, organizations.id))
      .where(and(eq(organizations.id, id), lte(organizations.deleteAfter, sql`now()`))),
  ]);
  const database = due[0]?.database;
  if (database === undefined) return false;
  const dedicatedCounts = database === SHARED_DATABASE ? null : await purgeDedicatedCopy(deps.databaseOf(database), id);
  const counts = dedicatedCounts === null ? sql`'{}'::jsonb` : sql`${JSON.stringify(dedicatedCounts)}::jsonb`;

  const [locked, domains, tombstone, , deleted] = await scoped(db, { platform: true }, [
    db.execute(sql`select id from ${organizations} where id = ${id} and delete_after <= now() for update`),
    domainsQuery(db, id),
    db.execute(sql`insert into audit_logs (organization_id, actor_type, action, target_type, target_id, user_agent,
        request_id, metadata)
      select null, 'system', 'platform.organization_deleted', 'organization', o.id::text,
        ${SYSTEM_CLIENT.userAgent}::text, ${SYSTEM_CLIENT.requestId}::text,
        jsonb_build_object('slug', o.slug, 'name', o.name, 'plan', o.plan, 'status', o.status,
          'deletionScheduledAt', o.deletion_scheduled_at, 'deleteAfter', o.delete_after,
          'members', (select count(*) from memberships m where m.organization_id = o.id),
          'events', (select count(*) from events e where e.organization_id = o.id),
          'bookings', (select count(*) from bookings b where b.organization_id = o.id),
          'invoices', (select count(*) from invoices i where i.organization_id = o.id),
          'auditEntries', (select count(*) from audit_logs a where a.organization_id = o.id),
          'database', ${database}::text) || ${counts}
      from ${organizations} o where o.id = ${id} and o.delete_after <= now()
      returning metadata`),
    // Bookings first: their items and tickets point at ticket types without a cascade (a ticket type with sales
    // cannot go), so they must be gone before the organization's cascade reaches the ticket types.
    db.execute(sql`delete from bookings where organization_id = ${id}
      and exists (select 1 from ${organizations} o where o.id = ${id} and o.delete_after <= now())`),
    db.execute(sql`delete from ${organizations} where id = ${id} and delete_after <= now() returning id`),
  ]);
  await forgetHosts(deps.rootDomain, hostsOf(organization.slug, domains));
  if (locked.rows.length === 0 || deleted.rows.length === 0) return false;
  logger.info('organization purged', {
    organizationId: id,
    summary: auditMetadata(SYSTEM_CLIENT, 'platform.organization_deleted', { ...tombstone.rows[0] }),
  });
  return true;
}

/**
 * The organization's rows on its dedicated database, in one transaction there: what it holds counted (for the
 * tombstone), its bookings (no cascade reaches them from the ticket types, as on the control database), then its copy
 * of the organization row, which every tenant table there follows by cascade. The caller checked the purge is due on
 * the control database (the dedicated copy carries no schedule). One round trip; a second run deletes nothing.
 */
async function purgeDedicatedCopy(db: Database, id: string): Promise<Record<string, number>> {
  const [counted] = await scoped(db, { platform: true }, [
    db.execute(sql`select (select count(*) from memberships where organization_id = ${id})::int as members,
        (select count(*) from events where organization_id = ${id})::int as events,
        (select count(*) from bookings where organization_id = ${id})::int as bookings,
        (select count(*) from invoices where organization_id = ${id})::int as invoices,
        (select count(*) from audit_logs where organization_id = ${id})::int as "auditEntries"`),
    db.execute(sql`delete from bookings where organization_id = ${id}`),
    db.execute(sql`delete from ${organizations} where id = ${id}`),
  ]);
  return z
    .object({
      members: z.number(),
      events: z.number(),
      bookings: z.number(),
      invoices: z.number(),
      auditEntries: z.number(),
    })
    .parse(counted.rows[0]);
}

/** Deletes every R2 object under `prefix`, a page at a time; false when R2_MAX_PAGES were not enough. */
async function deleteObjects(bucket: R2Bucket, prefix: string): Promise<boolean> {
  for (let page = 0; page < R2_MAX_PAGES; page += 1) {
    const listed = await bucket.list({ prefix, limit: R2_PAGE_SIZE });
    if (listed.objects.length === 0) return true;
    await bucket.delete(listed.objects.map((object) => object.key));
    if (!listed.truncated) return true;
  }
  return false;
}

/**
 * The organization's Redis keys that can be named (one round trip): the public catalogue's version keys and the
 * usage counters of every day a counter lives. Keys that could only be found by a SCAN of the whole keyspace are left
 * to their TTL: persisted GraphQL query texts (30 days; no personal data), rate-limit windows and revocation markers.
 */
async function deleteRedisKeys(redis: Redis, organizationId: string): Promise<void> {
  const now = Date.now();
  const days: string[] = [];
  for (let at = now - USAGE_KEY_TTL_SECONDS * 1000; at <= now; at += 86_400_000) days.push(utcDay(at));
  await redis.del(
    ...catalogueKeys(organizationId),
    ...days.flatMap((day) => COUNTED_METRICS.map((metric) => usageKey(organizationId, metric, day))),
  );
}
