import { and, eq, isNotNull, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { ssoConnections, ssoDomains } from '../../db/schema/index.ts';
import { ApiError } from '../../errors/api-error.ts';

/*
 * SSO enforcement at password sign-in (issue #15 part 3): a verified domain of the organization with `enforce`, routed
 * to an enabled connection, refuses password sign-in for its addresses (owners excepted). The checks depend only on the
 * address's domain, so the refusal never tells whether an account exists.
 */

/** The domain part of a normalized email address. */
export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

function enforced(organizationId: string | null, email: string) {
  if (organizationId === null) return sql`false`;
  return and(
    eq(ssoDomains.organizationId, organizationId),
    eq(ssoDomains.domain, emailDomain(email)),
    isNotNull(ssoDomains.verifiedAt),
    eq(ssoDomains.enforce, true),
    eq(ssoConnections.enabled, true),
  );
}

/**
 * The connection `email` must sign in with here, if SSO is enforced for its domain (a query for the sign-in batch;
 * `organizationId` null when the plan has no `sso`: then nothing is enforced).
 */
export function enforcedSsoQuery(db: Database, organizationId: string | null, email: string) {
  return db
    .select({ connectionId: ssoConnections.id, name: ssoConnections.name })
    .from(ssoDomains)
    .innerJoin(
      ssoConnections,
      and(eq(ssoConnections.organizationId, ssoDomains.organizationId), eq(ssoConnections.id, ssoDomains.connectionId)),
    )
    .where(enforced(organizationId, email))
    .limit(1);
}

/** The same as a condition for the sign-in's statement: true when SSO is enforced for `email`'s domain. */
export function ssoEnforcedSql(organizationId: string, email: string): SQL {
  return sql`exists (select 1 from ${ssoDomains} join ${ssoConnections}
    on ${ssoConnections.organizationId} = ${ssoDomains.organizationId} and ${ssoConnections.id} = ${ssoDomains.connectionId}
    where ${enforced(organizationId, email)})`;
}

/** The refusal of a password sign-in where SSO is enforced: it names the connection to sign in with. */
export function ssoRequired(connection: { connectionId: string; name: string }): ApiError {
  return new ApiError('sso_required', {
    detail:
      `This organization signs in this address with single sign-on (${connection.name}): start with ` +
      `POST /api/v1/sso/authorize and connectionId ${connection.connectionId}.`,
    extensions: { connectionId: connection.connectionId, authorizeUrl: '/api/v1/sso/authorize' },
  });
}
