import { sql } from 'drizzle-orm';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditInsert } from '../audit/record.ts';
import { actorOf } from '../events/shared.ts';
import { isoText } from '../outbox/views.ts';

/** The most rows of each list a data export holds (newest first); `truncated` names the lists that had more. */
export const MAX_EXPORT_ROWS = 1000;

/** The export's lists, in the order of the document. */
export const EXPORT_LISTS = [
  'sessions',
  'passkeys',
  'apiKeys',
  'bookings',
  'tickets',
  'waitlistEntries',
  'auditEntries',
] as const;

export interface PersonalDataExport {
  exportedAt: string;
  organization: { id: string; slug: string; name: string };
  account: Record<string, unknown>;
  membership: Record<string, unknown> | null;
  mfa: { totp: { enabled: boolean; enrolledAt: string | null }; recoveryCodesRemaining: number };
  sessions: Record<string, unknown>[];
  passkeys: Record<string, unknown>[];
  apiKeys: Record<string, unknown>[];
  bookings: Record<string, unknown>[];
  tickets: Record<string, unknown>[];
  waitlistEntries: Record<string, unknown>[];
  auditEntries: Record<string, unknown>[];
  truncated: string[];
}

/**
 * A list of the export: at most MAX_EXPORT_ROWS + 1 rows of `rows` (a subquery aliased `r`, already filtered to the
 * caller) as a JSON array of `item`, newest first by `order`. One more than the limit is read, so `truncated` can say
 * the list was cut; the document holds MAX_EXPORT_ROWS at most.
 */
function list(rows: ReturnType<typeof sql>, item: ReturnType<typeof sql>, order: ReturnType<typeof sql>) {
  return sql`coalesce((select jsonb_agg(x.item order by x.ord desc) from (select ${item} as item, ${order} as ord
    from ${rows} r order by ${order} desc limit ${MAX_EXPORT_ROWS + 1}) x), '[]'::jsonb)`;
}

/** A timestamp column of the document as ISO 8601 text (`isoText`, as the webhook payloads write it). */
const iso = (column: string) => isoText(sql.raw(column));

/**
 * What the organization holds about the signed-in person, as one JSON document, in one database round trip (the
 * account as this organization sees it, the membership and role, second factors without secrets, sessions, passkeys,
 * the API keys they created without the keys, the bookings they made and the tickets in their name here, waitlist
 * entries, and the audit entries of what they did), with an `account.data_exported` audit row. Never a secret: no
 * password hash, TOTP secret, recovery code, token, key or passkey public key; ticket codes only of bookings the
 * person made. Each list holds the newest MAX_EXPORT_ROWS rows; `truncated` names the lists that had more.
 */
export async function exportPersonalData({ ctx }: { ctx: ServiceContext }): Promise<PersonalDataExport> {
  const tenant = requireTenant(ctx);
  const { userId } = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const org = tenant.id;
  const [result] = await scoped(db, { organizationId: org }, [
    db.execute<{ document: PersonalDataExport }>(exportDocument(org, userId)),
    // Written after the document was read: the export does not list itself.
    auditInsert(db, ctx.client, {
      organizationId: org,
      actor: actorOf(ctx),
      action: 'account.data_exported',
      target: { type: 'user', id: userId },
    }),
  ]);
  const row = result.rows[0];
  if (row === undefined) throw new Error('the data export returned nothing');
  return trimmedExport(row.document);
}

/** The export as stored lists give it: each list cut to MAX_EXPORT_ROWS, `truncated` naming those that had more. */
export function trimmedExport(exported: PersonalDataExport): PersonalDataExport {
  const truncated: string[] = [];
  for (const name of EXPORT_LISTS) {
    if (exported[name].length > MAX_EXPORT_ROWS) {
      truncated.push(name);
      exported[name] = exported[name].slice(0, MAX_EXPORT_ROWS);
    }
  }
  return { ...exported, truncated };
}

/**
 * The statement that reads what organization `org` holds about user `userId` as one JSON document (`document`):
 * for the person's own export (organization scope) and the platform's export of an account (platform scope).
 */
export function exportDocument(org: string, userId: string) {
  const email = sql`(select email from users where id = ${userId})`;
  return sql`select jsonb_build_object(
    'exportedAt', ${iso('now()')},
    'organization', (select jsonb_build_object('id', o.id, 'slug', o.slug, 'name', o.name) from organizations o
      where o.id = ${org}),
    'account', (select jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name, 'locale', u.locale,
        'timezone', u.timezone, 'preferences', u.preferences,
        'emailVerifiedAt', ${iso('u.email_verified_at')}, 'createdAt', ${iso('u.created_at')},
        'updatedAt', ${iso('u.updated_at')})
      from users u where u.id = ${userId}),
    'membership', (select jsonb_build_object('role', jsonb_build_object('key', ro.key, 'name', ro.name),
        'status', m.status, 'displayName', m.display_name, 'lastLoginAt', ${iso('m.last_login_at')},
        'joinedAt', ${iso('m.created_at')})
      from memberships m join roles ro on ro.organization_id = m.organization_id and ro.id = m.role_id
      where m.organization_id = ${org} and m.user_id = ${userId}),
    'mfa', jsonb_build_object(
      'totp', coalesce((select jsonb_build_object('enabled', t.confirmed_at is not null,
          'enrolledAt', ${iso('t.confirmed_at')})
        from mfa_totp t where t.organization_id = ${org} and t.user_id = ${userId}),
        jsonb_build_object('enabled', false, 'enrolledAt', null)),
      'recoveryCodesRemaining', (select count(*) from mfa_recovery_codes c where c.organization_id = ${org}
        and c.user_id = ${userId} and c.used_at is null)),
    'sessions', ${list(
      sql`(select * from refresh_tokens where organization_id = ${org} and user_id = ${userId})`,
      sql`jsonb_build_object('sessionId', r.family_id, 'issuedAt', ${iso('r.created_at')}, 'ip', r.ip,
        'userAgent', r.user_agent, 'signInMethods', r.amr, 'expiresAt', ${iso('r.expires_at')},
        'revokedAt', ${iso('r.revoked_at')})`,
      sql`r.created_at`,
    )},
    'passkeys', ${list(
      sql`(select * from passkeys where organization_id = ${org} and user_id = ${userId})`,
      sql`jsonb_build_object('id', r.id, 'name', r.name, 'deviceType', r.device_type, 'backedUp', r.backed_up,
        'transports', r.transports, 'createdAt', ${iso('r.created_at')}, 'lastUsedAt', ${iso('r.last_used_at')})`,
      sql`r.created_at`,
    )},
    'apiKeys', ${list(
      sql`(select * from api_keys where organization_id = ${org} and created_by = ${userId})`,
      sql`jsonb_build_object('id', r.id, 'name', r.name, 'environment', r.environment,
        'prefix', 'evk_' || r.environment || '_' || replace(r.id::text, '-', ''), 'lastFour', r.last_four,
        'permissions', r.permissions, 'createdAt', ${iso('r.created_at')}, 'expiresAt', ${iso('r.expires_at')},
        'lastUsedAt', ${iso('r.last_used_at')}, 'lastUsedIp', r.last_used_ip, 'revokedAt', ${iso('r.revoked_at')})`,
      sql`r.created_at`,
    )},
    'bookings', ${list(
      sql`(select b.*, e.title as event_title from bookings b join events e on e.organization_id = b.organization_id
        and e.id = b.event_id where b.organization_id = ${org} and b.buyer_email = ${email})`,
      sql`jsonb_build_object('id', r.id, 'eventId', r.event_id, 'eventTitle', r.event_title, 'status', r.status,
        'buyer', jsonb_build_object('name', r.buyer_name, 'email', r.buyer_email), 'answers', r.answers,
        'total', r.total, 'currency', r.currency, 'discountCode', r.discount_code,
        'createdAt', ${iso('r.created_at')}, 'confirmedAt', ${iso('r.confirmed_at')},
        'cancelledAt', ${iso('r.cancelled_at')},
        'attendees', coalesce((select jsonb_agg(jsonb_build_object('id', a.id, 'name', a.name, 'email', a.email,
            'ticketTypeId', a.ticket_type_id, 'ticketCode', a.ticket_code, 'status', a.status, 'answers', a.answers,
            'checkedInAt', ${iso('a.checked_in_at')}) order by a.position)
          from attendees a where a.organization_id = ${org} and a.booking_id = r.id), '[]'::jsonb))`,
      sql`r.created_at`,
    )},
    'tickets', ${list(
      sql`(select a.*, b.event_id, e.title as event_title from attendees a
        join bookings b on b.organization_id = a.organization_id and b.id = a.booking_id
        join events e on e.organization_id = b.organization_id and e.id = b.event_id
        where a.organization_id = ${org} and a.email = ${email} and b.buyer_email <> ${email})`,
      sql`jsonb_build_object('id', r.id, 'bookingId', r.booking_id, 'eventId', r.event_id,
        'eventTitle', r.event_title, 'name', r.name, 'email', r.email, 'status', r.status, 'answers', r.answers,
        'checkedInAt', ${iso('r.checked_in_at')}, 'createdAt', ${iso('r.created_at')})`,
      sql`r.created_at`,
    )},
    'waitlistEntries', ${list(
      sql`(select * from waitlist_entries where organization_id = ${org} and email = ${email})`,
      sql`jsonb_build_object('id', r.id, 'eventId', r.event_id, 'ticketTypeId', r.ticket_type_id, 'name', r.name,
        'email', r.email, 'groupSize', r.group_size, 'status', r.status, 'createdAt', ${iso('r.created_at')})`,
      sql`r.created_at`,
    )},
    'auditEntries', ${list(
      sql`(select * from audit_logs where organization_id = ${org} and actor_user_id = ${userId})`,
      sql`jsonb_build_object('action', r.action, 'targetType', r.target_type, 'targetId', r.target_id,
        'ip', r.ip, 'userAgent', r.user_agent, 'metadata', r.metadata, 'at', ${iso('r.created_at')})`,
      sql`r.id`,
    )}) as document`;
}
