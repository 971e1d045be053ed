import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Database } from '../../db/client.ts';
import { attendees, auditLogs, bookings, waitlistEntries } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditInsert } from '../audit/record.ts';
import { fieldError } from '../events/shared.ts';
import { memberNotFound, selectMember } from '../users/members.ts';
import { removeMembership } from '../users/remove.ts';

/** The name every erased person's rows carry. */
export const ERASED_NAME = 'Erased';

/** An address that reaches no one and stays distinct per row (`erased-<first 8 of the row id>@erased.invalid`). */
function erasedEmail(id: SQL): SQL {
  return sql`'erased-' || left(${id}::text, 8) || '@erased.invalid'`;
}

export interface ErasureSummary {
  bookings: number;
  tickets: number;
  waitlistEntries: number;
  auditEntries: number;
}

const counted = (result: unknown): number => (result as unknown[]).length;

/**
 * The statements that erase a person's data from an organization's records (or from every organization's, when
 * `organizationId` is null: the platform-wide erasure, under the platform scope), in this order: the bookings made
 * with their email address, the tickets in their name, their waitlist entries (a waiting one is left), and the client
 * details of the audit entries of what they did. Each returns the rows it changed (`id`, `organizationId`).
 */
export function erasureStatements(db: Database, who: { organizationId: string | null; userId: string; email: string }) {
  const { organizationId: org, userId, email } = who;
  const inScope = (column: PgColumn) => (org === null ? sql`true` : eq(column, org));
  return [
    db
      .update(bookings)
      .set({
        buyerName: ERASED_NAME,
        buyerEmail: erasedEmail(sql`${bookings.id}`),
        answers: {},
        updatedAt: sql`now()`,
      })
      .where(and(inScope(bookings.organizationId), eq(bookings.buyerEmail, email)))
      .returning({ id: bookings.id, organizationId: bookings.organizationId }),
    db
      .update(attendees)
      .set({ name: ERASED_NAME, email: erasedEmail(sql`${attendees.id}`), answers: {}, updatedAt: sql`now()` })
      .where(and(inScope(attendees.organizationId), eq(attendees.email, email)))
      .returning({ id: attendees.id, organizationId: attendees.organizationId }),
    db
      .update(waitlistEntries)
      .set({
        name: ERASED_NAME,
        email: erasedEmail(sql`${waitlistEntries.id}`),
        status: sql`(case when ${waitlistEntries.status} = 'waiting' then 'left' else ${waitlistEntries.status} end)::waitlist_status`,
        updatedAt: sql`now()`,
      })
      .where(and(inScope(waitlistEntries.organizationId), eq(waitlistEntries.email, email)))
      .returning({ id: waitlistEntries.id, organizationId: waitlistEntries.organizationId }),
    db
      .update(auditLogs)
      .set({ ip: null, userAgent: null })
      .where(
        and(
          // Platform-wide, only what still holds a detail: the organizations' own erasures ran first.
          org === null
            ? sql`(${auditLogs.ip} is not null or ${auditLogs.userAgent} is not null)`
            : eq(auditLogs.organizationId, org),
          eq(auditLogs.actorUserId, userId),
        ),
      )
      .returning({ id: auditLogs.id, organizationId: auditLogs.organizationId }),
  ];
}

/**
 * The signed-in person leaves this organization and erases what it holds about them, in one transaction:
 * - the bookings made with their email address keep their money, seats and tickets (the organization's records) but
 *   lose the buyer's name, address and answers; tickets in their name, and their waitlist entries (a waiting one is
 *   left), likewise;
 * - the audit entries of what they did keep what, when and the actor's id, and lose the address and user agent (the
 *   one change the audit log's trigger allows, drizzle/sql/security.sql);
 * - the membership goes, and with it (by cascade) their sessions, one-time tokens, second factors and passkeys here;
 *   then every access token of theirs here ends and their API keys are revoked (`endSessions`).
 * Kept, for the law or the books: issued invoices and credit notes (tax retention) and the account itself, which is one
 * identity across organizations. The last active owner cannot leave (409). The confirmation must be the
 * organization's slug. Two database round trips (the member is read, then the batch of `removeMembership`) and then
 * `endSessions`.
 */
export async function eraseOwnData({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { confirm: string };
}): Promise<ErasureSummary> {
  const tenant = requireTenant(ctx);
  const { userId } = principalOf({ var: { principal: ctx.principal } });
  if (input.confirm !== tenant.slug) {
    throw fieldError('/body/confirm', "must be this organization's slug, to confirm");
  }
  const db = ctx.services.db;
  const org = tenant.id;
  const [[target]] = await scoped(db, { organizationId: org }, [selectMember(db, org, userId)]);
  if (!target) throw memberNotFound();
  const email = target.email;
  const [bookingRows, ticketRows, waitlistRows, auditRows] = await removeMembership(ctx, org, target, {
    before: erasureStatements(db, { organizationId: org, userId, email }),
    // The erasure's own record names no address or agent either.
    audit: auditInsert(
      db,
      { ...ctx.client, ip: null, userAgent: null },
      {
        organizationId: org,
        actor: { type: 'user', userId },
        action: 'account.data_erased',
        target: { type: 'user', id: userId },
      },
    ),
  });
  return {
    bookings: counted(bookingRows),
    tickets: counted(ticketRows),
    waitlistEntries: counted(waitlistRows),
    auditEntries: counted(auditRows),
  };
}
