import { and, eq, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { z } from 'zod';
import { memberships, roles, users } from '../../db/schema/index.ts';
import { databaseFor, SHARED_DATABASE, type Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { servicesFor } from '../../lib/services.ts';
import { auditInsert } from '../audit/record.ts';
import { otherDatabases } from '../auth/identity-copies.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import { memberColumns, type MemberRow } from '../users/members.ts';
import { removeMembership } from '../users/remove.ts';
import { erasureStatements, type ErasureSummary } from './erase.ts';
import { exportDocument, trimmedExport, type PersonalDataExport } from './export.ts';

/**
 * A data subject's rights across the whole platform (issue #16 part 6), exercised by a platform administrator on the
 * platform host for a request the person made to the platform: the export of what every organization holds about an
 * account, and its erasure everywhere. Both reuse the per-organization forms (`exportDocument`, `removeMembership` with
 * `erasureStatements`), so an organization's share is exactly what the person's own request there would give or erase.
 * Every run is audited in the platform log and in each organization concerned.
 */

export interface AccountDataExport {
  exportedAt: string;
  account: {
    id: string;
    email: string;
    name: string;
    locale: string;
    timezone: string;
    preferences: Record<string, unknown>;
    emailVerifiedAt: string | null;
    createdAt: string;
    updatedAt: string;
  };
  organizations: PersonalDataExport[];
}

export interface AccountErasure extends ErasureSummary {
  organizations: number;
  membershipsRemoved: number;
}

function accountNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No account with this id.' });
}

/**
 * The organizations that hold something of the account: its memberships, and the bookings, tickets and waitlist
 * entries made with its email address (a guest checkout needs no membership). A scan of those tables by address:
 * platform-wide requests are rare, and no tenant index leads with the address.
 */
function organizationsHolding(userId: string, address?: string) {
  const email = address === undefined ? sql`(select email from users where id = ${userId})` : sql`${address}::text`;
  return sql`select organization_id from memberships where user_id = ${userId}
    union select organization_id from bookings where buyer_email = ${email}
    union select organization_id from attendees where email = ${email}
    union select organization_id from waitlist_entries where email = ${email}
    order by 1`;
}

const OrganizationIds = z
  .array(z.object({ organization_id: z.string() }))
  .transform((rows) => rows.map((row) => row.organization_id));

/**
 * What every organization holds about an account, as one JSON document: the account, then per organization the
 * document the person's own export there gives (`exportDocument`), on whichever database serves it. Two database
 * round trips on the control database (the account and the organizations concerned, then one batch of their
 * documents with the audit rows: `platform.user_data_exported` in the platform log, `account.data_exported` by a
 * platform administrator in each organization's), and on each dedicated database, side by side, a read of the
 * organizations concerned there and, when there are any, a batch of their documents and audit rows.
 */
export async function exportAccountData({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<AccountDataExport> {
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const [accounts, held] = await scoped(db, { platform: true }, [
    db.select().from(users).where(eq(users.id, id)),
    db.execute(organizationsHolding(id)),
  ]);
  const account = accounts[0];
  if (!account) throw accountNotFound();
  const actor = { type: 'platform_admin', userId: ctx.principal?.userId ?? null } as const;
  const target = { type: 'user', id };
  /** The documents of `organizationIds` on `on`, with their audit rows (and `first`, the platform's, if given). */
  const documentsOn = async (on: Database, organizationIds: string[], first?: BatchItem<'pg'>): Promise<unknown[]> => {
    const statements: BatchItem<'pg'>[] = [
      ...organizationIds.map((organizationId) =>
        on.execute<{ document: PersonalDataExport }>(exportDocument(organizationId, id)),
      ),
      ...organizationIds.map((organizationId) =>
        auditInsert(on, ctx.client, { organizationId, actor, action: 'account.data_exported', target }),
      ),
    ];
    const [head, ...rest] = first === undefined ? statements : [first, ...statements];
    if (head === undefined) return [];
    const results: unknown[] = await scoped(on, { platform: true }, [head, ...rest]);
    return results.slice(first === undefined ? 0 : 1, (first === undefined ? 0 : 1) + organizationIds.length);
  };
  // The organizations on dedicated databases: what each holds, then (where it holds something) its documents.
  const dedicated = await Promise.all(
    otherDatabases(ctx.bindings, SHARED_DATABASE).map(async (key) => {
      const on = databaseFor(ctx.bindings, key);
      const [found] = await scoped(on, { platform: true }, [on.execute(organizationsHolding(id, account.email))]);
      const organizationIds = OrganizationIds.parse(found.rows);
      return { organizationIds, documents: await documentsOn(on, organizationIds) };
    }),
  );
  const organizationIds = OrganizationIds.parse(held.rows);
  const everyOrganization = [...organizationIds, ...dedicated.flatMap((on) => on.organizationIds)];
  const documents = [
    ...(await documentsOn(
      db,
      organizationIds,
      auditInsert(db, ctx.client, {
        organizationId: null,
        actor,
        action: 'platform.user_data_exported',
        target,
        metadata: { organizations: everyOrganization },
      }),
    )),
    ...dedicated.flatMap((on) => on.documents),
  ];
  const exported = documents.map((result) => {
    const row = (result as { rows: { document: PersonalDataExport }[] }).rows[0];
    if (row === undefined) throw new Error('a data export document returned nothing');
    return trimmedExport(row.document);
  });
  return {
    exportedAt: new Date().toISOString(),
    account: {
      id: account.id,
      email: account.email,
      name: account.name,
      locale: account.locale,
      timezone: account.timezone,
      preferences: { ...account.preferences },
      emailVerifiedAt: account.emailVerifiedAt?.toISOString() ?? null,
      createdAt: account.createdAt.toISOString(),
      updatedAt: account.updatedAt.toISOString(),
    },
    organizations: exported,
  };
}

const counted = (result: unknown): number => (result as unknown[]).length;

/**
 * What one database holds of an account, as three statements: its memberships there (as `removeMembership` needs
 * them), the organizations it would leave without an active owner, every organization that holds something of it.
 * `email` when the database may hold no copy of the account (a dedicated one); else read from the account's row.
 */
function holdingStatements(db: Database, id: string, email?: string) {
  return [
    db
      .select({ ...memberColumns, organizationId: memberships.organizationId })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
      .where(eq(memberships.userId, id)),
    db.execute(sql`select o.slug from memberships m
      join roles r on r.organization_id = m.organization_id and r.id = m.role_id
      join organizations o on o.id = m.organization_id
      where m.user_id = ${id} and m.status = 'active' and r.key = ${OWNER_ROLE}
        and not exists (select 1 from memberships m2 join roles r2 on r2.organization_id = m2.organization_id
          and r2.id = m2.role_id where m2.organization_id = m.organization_id and m2.user_id <> m.user_id
          and m2.status = 'active' and r2.key = ${OWNER_ROLE})
      order by o.slug`),
    db.execute(organizationsHolding(id, email)),
  ] as const;
}

type HoldingResults = Awaited<ReturnType<typeof scoped<ReturnType<typeof holdingStatements>>>>;

function holdingsOf([members, ownerless, held]: HoldingResults) {
  return {
    members,
    ownerless: z
      .array(z.object({ slug: z.string() }))
      .parse(ownerless.rows)
      .map((row) => row.slug),
    organizationIds: OrganizationIds.parse(held.rows),
  };
}

/**
 * Erases an account everywhere, for a data subject's request to the platform, on every database that serves one of
 * its organizations (the control database, and each dedicated one, which holds the account's copy and the rows of the
 * organizations moved there):
 * 1. reads: the account on the control database with what that database holds of it (`holdingStatements`: its
 *    memberships, the organizations it would leave without an active owner, every organization that holds something
 *    of it), then the same on every dedicated database, in parallel. An erasure that would leave an organization ownerless is refused
 *    before anything changes (409 naming them), as is a platform administrator's account (their power is not given
 *    or taken through the API);
 * 2. per database, each membership goes through `removeMembership` with the per-organization erasure
 *    (`erasureStatements`) in its batch, audited there as `account.data_erased` by a platform administrator; its
 *    sessions and API keys end;
 * 3. per database (the dedicated ones first, the control database last), one batch: the same erasure in every other
 *    organization there (bookings, tickets, waitlist entries made with the address where it holds no membership),
 *    the account's row deleted (its factors, passkeys, sessions, one-time tokens and API keys follow by cascade),
 *    `account.data_erased` in each of those organizations' logs, and on the control database
 *    `platform.user_data_erased` (with the reason) in the platform's.
 * Rows the books need stay, without the person: bookings and tickets keep money and seats, audit entries keep what,
 * when and the actor's id (now pointing at no account). Round trips: 2 + one per membership (plus its Redis round
 * trip, `endSessions`) + the API-key check of each, and 2 more per dedicated database (its read and its batch).
 * Run again after a failure half-way, it erases what is left (the control row goes last).
 */
export async function eraseAccount({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason: string };
}): Promise<AccountErasure> {
  const control = ctx.services.db;
  const id = input.id.toLowerCase();
  const [accounts, ...onControl] = await scoped(control, { platform: true }, [
    control.select({ email: users.email, isPlatformAdmin: users.isPlatformAdmin }).from(users).where(eq(users.id, id)),
    ...holdingStatements(control, id),
  ]);
  const account = accounts[0];
  if (!account) throw accountNotFound();
  if (account.isPlatformAdmin) {
    throw new ApiError('conflict', { detail: "A platform administrator's account cannot be erased through the API." });
  }
  // The dedicated databases first, the control one last: its account row is what a second run starts from.
  const keys = [...otherDatabases(ctx.bindings, SHARED_DATABASE), SHARED_DATABASE];
  const databases = keys.map((key) => {
    const services = key === SHARED_DATABASE ? ctx.services : servicesFor(ctx.bindings, key);
    return { key, ctx: { ...ctx, services } satisfies ServiceContext };
  });
  const holdings = await Promise.all(
    databases.map(async ({ key, ctx: on }) => {
      if (key === SHARED_DATABASE) return holdingsOf(onControl);
      const db = on.services.db;
      return holdingsOf(await scoped(db, { platform: true }, holdingStatements(db, id, account.email)));
    }),
  );
  const slugs = holdings.flatMap((held) => held.ownerless).sort();
  if (slugs.length > 0) {
    throw new ApiError('conflict', {
      detail:
        `The account is the last active owner of ${slugs.join(', ')}: make someone else an owner there (or delete ` +
        'the organization) first. Nothing was erased.',
      extensions: { organizations: slugs },
    });
  }

  const actor = { type: 'platform_admin', userId: ctx.principal?.userId ?? null } as const;
  const target = { type: 'user', id };
  const metadata = { reason: input.reason };
  const summary: AccountErasure = {
    bookings: 0,
    tickets: 0,
    waitlistEntries: 0,
    auditEntries: 0,
    organizations: 0,
    membershipsRemoved: 0,
  };
  const add = (results: readonly unknown[]) => {
    summary.bookings += counted(results[0]);
    summary.tickets += counted(results[1]);
    summary.waitlistEntries += counted(results[2]);
    summary.auditEntries += counted(results[3]);
  };
  const everyOrganization = [...new Set(holdings.flatMap((held) => held.organizationIds))].sort();
  for (const [index, { key, ctx: on }] of databases.entries()) {
    const db = on.services.db;
    const { members, organizationIds } = holdings[index] ?? { members: [], organizationIds: [] };
    for (const member of members) {
      const { organizationId, ...row } = member;
      const results = await removeMembership(on, organizationId, row satisfies MemberRow, {
        before: erasureStatements(db, { organizationId, userId: id, email: account.email }),
        audit: auditInsert(db, ctx.client, { organizationId, actor, action: 'account.data_erased', target, metadata }),
      });
      add(results);
      summary.membershipsRemoved += 1;
    }
    const memberOf = new Set(members.map((member) => member.organizationId));
    const others = organizationIds.filter((organizationId) => !memberOf.has(organizationId));
    const erasure = erasureStatements(db, { organizationId: null, userId: id, email: account.email });
    const platformAudit =
      key === SHARED_DATABASE
        ? [
            auditInsert(db, ctx.client, {
              organizationId: null,
              actor,
              action: 'platform.user_data_erased',
              target,
              metadata: { ...metadata, organizations: everyOrganization },
            }),
          ]
        : [];
    const [first, ...rest] = erasure;
    if (first === undefined) throw new Error('the erasure has no statements');
    const erased = await scoped(db, { platform: true }, [
      first,
      ...rest,
      db.delete(users).where(eq(users.id, id)),
      ...platformAudit,
      ...others.map((organizationId) =>
        auditInsert(db, ctx.client, { organizationId, actor, action: 'account.data_erased', target, metadata }),
      ),
    ]);
    add(erased);
  }
  summary.organizations = everyOrganization.length;
  return summary;
}
