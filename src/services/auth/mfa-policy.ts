import { sql, type SQL } from 'drizzle-orm';
import { users } from '../../db/schema/index.ts';
import type { Tenant } from '../tenants/types.ts';
import type { MfaChallenge, MfaMethod } from './mfa-challenge.ts';

/** Login's answer when a second step is due instead of a session (the OpenAPI oneOf's second branch). */
export interface MfaRequired {
  mfaRequired: true;
  mfaToken: string;
  expiresIn: number;
  methods: MfaMethod[];
  /** The organization requires MFA and the member has no factor: the token only enrols one and completes the sign-in. */
  enrollmentRequired: boolean;
}

/**
 * The columns login's one read adds for MFA (no new round trip): the confirmed TOTP secret's ciphertext (null
 * without TOTP), the count of unused recovery codes and whether the member has a passkey here, for the user row being
 * signed in.
 */
export function mfaEnrolmentColumns(organizationId: string) {
  return {
    totpCiphertext: sql<string | null>`(select t.secret_ciphertext from mfa_totp t
      where t.organization_id = ${organizationId} and t.user_id = ${users.id} and t.confirmed_at is not null)`,
    recoveryCodes: sql<number>`(select count(*) from mfa_recovery_codes c
      where c.organization_id = ${organizationId} and c.user_id = ${users.id} and c.used_at is null)::int`,
    hasPasskey: sql<boolean>`exists (select 1 from passkeys p
      where p.organization_id = ${organizationId} and p.user_id = ${users.id})`,
  };
}

/**
 * SQL: a second step is due for membership `m` with role `r` (login stores no session then): a second factor (a
 * confirmed TOTP or a passkey), or the organization's `requireMfa` and a role with any permission.
 */
export function secondStepDue(tenant: Pick<Tenant, 'settings'>, membership: SQL, role: SQL): SQL {
  const enrolled = sql`(exists (select 1 from mfa_totp t
    where t.organization_id = ${membership}.organization_id and t.user_id = ${membership}.user_id
      and t.confirmed_at is not null)
    or exists (select 1 from passkeys p
    where p.organization_id = ${membership}.organization_id and p.user_id = ${membership}.user_id))`;
  return tenant.settings.requireMfa === true
    ? sql`(${enrolled} or cardinality(${role}.permissions) > 0)`
    : sql`${enrolled}`;
}

/**
 * The challenge a sign-in needs, from login's read (the same rule as `secondStepDue`), or null for a plain session:
 * the enrolled factors, or enrolment only when the organization requires MFA of this role and the member has none.
 */
export function secondStep(
  tenant: Pick<Tenant, 'settings'>,
  account: {
    totpCiphertext: string | null;
    recoveryCodes: number;
    hasPasskey: boolean;
    permissions: readonly string[];
  },
): Pick<MfaChallenge, 'methods' | 'enrollmentRequired' | 'totpCiphertext'> | null {
  if (account.totpCiphertext !== null || account.hasPasskey) {
    const methods: MfaMethod[] = [];
    if (account.totpCiphertext !== null) methods.push('totp');
    if (account.hasPasskey) methods.push('webauthn');
    if (account.recoveryCodes > 0) methods.push('recovery_code');
    return { methods, enrollmentRequired: false, totpCiphertext: account.totpCiphertext };
  }
  if (tenant.settings.requireMfa === true && account.permissions.length > 0) {
    return { methods: ['totp'], enrollmentRequired: true, totpCiphertext: null };
  }
  return null;
}
