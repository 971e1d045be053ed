import { and, asc, eq, sql } from 'drizzle-orm';
import { ssoConnections, userIdentities, type SsoConnection } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { actorOf, auditInsertWhen } from '../audit/record.ts';

/** An identity at an IdP linked to the caller's account here (never the IdP's tokens: none are kept). */
export interface LinkedIdentityView {
  id: string;
  connection: { id: string; name: string; type: SsoConnection['type'] };
  /** The IdP's stable identifier of the person (`sub`, or the SAML NameID). */
  subject: string;
  email: string | null;
  lastSignInAt: string | null;
  createdAt: string;
}

/** The caller's linked identities in this organization, oldest first. One database round trip. */
export async function listLinkedIdentities({ ctx }: { ctx: ServiceContext }): Promise<LinkedIdentityView[]> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        id: userIdentities.id,
        connectionId: ssoConnections.id,
        connectionName: ssoConnections.name,
        connectionType: ssoConnections.type,
        subject: userIdentities.subject,
        email: userIdentities.email,
        lastSignInAt: userIdentities.lastSignInAt,
        createdAt: userIdentities.createdAt,
      })
      .from(userIdentities)
      .innerJoin(
        ssoConnections,
        and(
          eq(ssoConnections.organizationId, userIdentities.organizationId),
          eq(ssoConnections.id, userIdentities.connectionId),
        ),
      )
      .where(and(eq(userIdentities.organizationId, tenant.id), eq(userIdentities.userId, principal.userId)))
      .orderBy(asc(userIdentities.createdAt), asc(userIdentities.id))
      .limit(100),
  ]);
  return rows.map((row) => ({
    id: row.id,
    connection: { id: row.connectionId, name: row.connectionName, type: row.connectionType },
    subject: row.subject,
    email: row.email,
    lastSignInAt: row.lastSignInAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  }));
}

/**
 * Unlinks one of the caller's identities: the next sign-in through that connection finds the account only again
 * by a verified email (or provisions a new one). Sessions already open stay. The delete and its
 * `auth.identity_unlinked` audit row are one statement; someone else's identity, or another organization's, is a
 * 404 like a missing one. One database round trip.
 */
export async function unlinkIdentity({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const audit = auditInsertWhen(
    ctx.client,
    {
      organizationId: tenant.id,
      actor: actorOf(principal),
      action: 'auth.identity_unlinked',
      target: { type: 'user_identity', id: input.id },
    },
    sql`true`,
    sql`deleted`,
  );
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ id: string }>(sql`with deleted as (
        delete from ${userIdentities}
         where ${userIdentities.organizationId} = ${tenant.id} and ${userIdentities.id} = ${input.id}
           and ${userIdentities.userId} = ${principal.userId}
        returning id)
      ${audit} returning id`),
  ]);
  if (result.rows.length === 0) throw new ApiError('not_found', { detail: 'No linked identity with this id.' });
}
