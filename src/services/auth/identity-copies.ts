import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { databaseFor, databaseKeys, SHARED_DATABASE, type DatabaseKey } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import { PLATFORM_TENANT } from './tokens.ts';

/**
 * A person's `users` row exists on every database that serves one of their organizations (the control database, and
 * a copy on each dedicated database whose tenant rows reference them: docs/OPERATIONS.md, "Sharding"), and their
 * sessions (`refresh_tokens`) live beside their memberships. So a change of what signs them in, or the end of their
 * sessions everywhere, must reach every database: this is the one place that does it. The write on the request's own
 * database keeps its statement (and its audit row); `writeIdentityCopies` then applies the same change to the copies
 * on every other database the Worker knows (DATABASE_URLS), in parallel: one round trip each, none while every
 * organization is on the shared database. A database without a copy of the user matches nothing.
 */

/** What changes on every copy. */
export interface IdentityChange {
  /** A new password hash: stored on every copy, and the user's outstanding reset links there are spent. */
  passwordHash?: string;
  /** The address was proven (a verification or reset link): marked verified on every copy. */
  emailVerified?: boolean;
  /** Every refresh token of the user there is revoked (a new password, a platform revocation, an erasure). */
  endSessions?: boolean;
  /**
   * The profile (`PATCH /auth/me`): the fields given replace the copy's, `preferences` is merged key by key (a null
   * value removes the key), exactly as the change did on the request's database.
   */
  profile?: { name?: string; locale?: string; timezone?: string; preferences?: string };
}

const CopyRows = z.array(z.object({ sessions: z.coerce.number(), tenants: z.array(z.string()) }));

/** Every database key but `except` (the one the caller already wrote). */
export function otherDatabases(bindings: Bindings, except: DatabaseKey | undefined): DatabaseKey[] {
  const own = except ?? SHARED_DATABASE;
  return databaseKeys(bindings).filter((key) => key !== own);
}

/**
 * Applies `change` to the user's copies on every database but `except` (the request's own), in parallel, one round
 * trip per database. Returns the sessions (refresh families) revoked there and every tenant whose access tokens the
 * user may hold there (their memberships on those databases, and the platform for an administrator): the caller
 * ends those access tokens in Redis with the ones of its own database, in its one Redis round trip.
 */
export async function writeIdentityCopies(
  bindings: Bindings,
  input: { userId: string; except: DatabaseKey | undefined; change: IdentityChange },
): Promise<{ sessions: number; tenants: string[] }> {
  const { userId, change } = input;
  const keys = otherDatabases(bindings, input.except);
  if (keys.length === 0) return { sessions: 0, tenants: [] };
  const passwordHash = change.passwordHash ?? null;
  const verified = change.emailVerified === true;
  const endSessions = change.endSessions === true;
  const profile = change.profile ?? {};
  const name = profile.name ?? null;
  const locale = profile.locale ?? null;
  const timezone = profile.timezone ?? null;
  const preferences = profile.preferences ?? null;
  const changes = passwordHash !== null || verified || change.profile !== undefined;
  const results = await Promise.all(
    keys.map(async (key) => {
      const db = databaseFor(bindings, key);
      const [result] = await scoped(db, { platform: true }, [
        db.execute(sql`
          with target as (select id, is_platform_admin from users where id = ${userId}),
          changed as (
            update users u
               set password_hash = coalesce(${passwordHash}::text, u.password_hash),
                   email_verified_at = case when ${verified}::boolean then coalesce(u.email_verified_at, now())
                                            else u.email_verified_at end,
                   name = coalesce(${name}::text, u.name),
                   locale = coalesce(${locale}::text, u.locale),
                   timezone = coalesce(${timezone}::text, u.timezone),
                   preferences = case when ${preferences}::jsonb is null then u.preferences
                                      else jsonb_strip_nulls(u.preferences || ${preferences}::jsonb) end,
                   updated_at = now()
             where u.id in (select id from target) and ${changes}::boolean
            returning u.id
          ), links as (
            update user_tokens set used_at = now()
             where ${passwordHash}::text is not null and user_id in (select id from target)
               and purpose = 'reset_password' and used_at is null
            returning 1
          ), revoked as (
            update refresh_tokens set revoked_at = now()
             where ${endSessions}::boolean and user_id in (select id from target) and revoked_at is null
            returning family_id, organization_id
          )
          select (select count(distinct (r.organization_id, r.family_id)) from revoked r) as sessions,
            (array(select m.organization_id::text from memberships m where m.user_id = t.id)
              || case when t.is_platform_admin then array[${PLATFORM_TENANT}::text] else array[]::text[] end)
              as tenants
            from target t`),
      ]);
      return CopyRows.parse(result.rows)[0] ?? { sessions: 0, tenants: [] };
    }),
  );
  return {
    sessions: results.reduce((sum, row) => sum + row.sessions, 0),
    tenants: [...new Set(results.flatMap((row) => row.tenants))],
  };
}
